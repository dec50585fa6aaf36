"""Cross-entropy output error: the generated code against the numpy mirror, with learning and batches."""
import numpy as np
import pytest
from brian2 import ms

from gle_brian import GLENetwork, ReferenceNetwork
from gle_brian.network import SCHEDULE
from gle_brian.optimisers import Adam, Learning
from gle_brian.reference import VARIABLES
from mirror import assert_equals_mirror


def one_hot(labels, classes):
    return np.eye(classes)[labels]


@pytest.mark.parametrize('device, batch', [
    # batch 3 on every CPU target: every learning code object (Adam on W, b, tau_m, batch sums, softmax);
    # batch 1 on numpy (its compiled learning path is tested in test_learning)
    ('numpy', 1), ('numpy', 3), ('cython', 3), pytest.param('cpp_standalone', 3, marks=pytest.mark.standalone)])
def test_cross_entropy_equals_mirror(device, mixed_layers, batch):
    """beta*(onehot - softmax(r)) from the old rates; Adam on W, b, tau_m; learning on, off, no target."""
    rng = np.random.default_rng(5)
    sizes = [3] + [layer.size for layer in mixed_layers]
    weights = [rng.uniform(-1, 1, (n, m)) for m, n in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(size=layer.size) for layer in mixed_layers]
    learning = Learning(Adam(lr=0.01), tau_m=True, tau_m_min=0.05 * ms)
    kwargs = dict(dt=0.01 * ms, beta=0.5, biases=biases, learning=learning, batch=batch)
    net = GLENetwork(3, mixed_layers, weights=weights, device=device, loss='ce', record=VARIABLES, **kwargs)
    ref = ReferenceNetwork(3, mixed_layers, weights, loss='ce', **kwargs)
    steps = 120
    for learn in (True, False, None):
        x = 3 * rng.normal(size=(steps, batch, 3))
        y = None if learn is None else one_hot(rng.integers(0, sizes[-1], (steps, batch)), sizes[-1])
        net.run(x, y, learn=bool(learn))
        traces = ref.run(x, y, learn=bool(learn))
        assert_equals_mirror(net, ref, traces, atol=1e-12)
    apical = traces['I_apical'][-1]
    assert np.abs(apical).max() == 0         # no target: no error
    assert np.abs(traces['r'][-1]).max() > 0.1


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
