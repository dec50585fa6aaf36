"""Cross-entropy output error: its place in the schedule and its values (against the mirror on every target,
with learning and batches: test_targets)."""
import numpy as np
from brian2 import ms

from gle_brian import GLENetwork
from gle_brian.network import SCHEDULE


def one_hot(labels, classes):
    return np.eye(classes)[labels]


def test_softmax_normaliser_runs_just_before_output_error():
    assert SCHEDULE['softmax'][0] == SCHEDULE['output_error'][0]
    assert SCHEDULE['softmax'][1] == SCHEDULE['output_error'][1] - 1


def test_cross_entropy_output_error_sums_to_zero():
    """With a one-hot target the CE apical inputs of one copy sum to beta*(1 - 1) = 0; finite at r = 600."""
    from gle_brian import Layer
    layers = [Layer(4, tau_m=1 * ms, bias=True)]
    net = GLENetwork(2, layers, dt=0.5 * ms, device='numpy', loss='ce', beta=2.0, biases=[[600, 0, -5, 1]],
                     weights=[np.zeros((4, 2))], record=['I_apical', 'r'])
    net.run(np.zeros((20, 2)), one_hot(np.full(20, 2), 4))
    apical = net.trace('I_apical', 0)
    assert np.all(np.isfinite(apical)) and net.trace('r', 0)[-1, 0] > 599
    np.testing.assert_allclose(apical.sum(axis=1), 0, atol=1e-9)
    np.testing.assert_allclose(apical[-1], 2.0 * (np.array([0, 0, 1, 0]) - np.array([1, 0, 0, 0])), atol=1e-9)
