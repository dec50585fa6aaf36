"""The microcircuit form computes exactly what the compact network computes.

Plasticity is not wired into the microcircuit form yet: when it is, extend
``test_microcircuit_matches_compact_network`` with ``learning=...`` and compare the weights too.
"""
import numpy as np
import pytest
from brian2 import ms

from gle_brian import GLEConfigError, GLENetwork, Layer
from gle_brian.microcircuit import MicrocircuitNetwork, error_equations, representation_equations

VARIABLES = ['u', 'v', 'u_breve', 'r', 'r_prime', 'err', 'I_basal', 'I_apical']


def _traces(cls, layers, device, directory, feedback='symmetric', variables=VARIABLES):
    rng = np.random.default_rng(7)
    net = cls(2, layers, dt=0.01 * ms, device=device, loss='mse', beta=0.2, seed=5, feedback=feedback,
              biases=[rng.normal(size=layer.size) for layer in layers], record=variables, directory=directory)
    traces = []
    for run in range(2):        # the state carries over between runs
        net.run(rng.normal(size=(80, 2)), target=rng.normal(size=(80, layers[-1].size)))
        traces.append({(v, l): net.trace(v, l) for v in variables for l in range(len(layers))})
        if run == 0:            # error neurons follow the time constants of their representation neurons
            net.set_tau_m(np.linspace(1, 3, layers[0].size) * ms, layer=0)
    return traces, [w.copy() for w in net.weights]     # views into Brian's arrays die with the network


def test_microcircuit_matches_compact_network(device, mixed_layers, tmp_path):
    compact, w_compact = _traces(GLENetwork, mixed_layers, device, str(tmp_path / 'compact'))
    micro, w_micro = _traces(MicrocircuitNetwork, mixed_layers, device, str(tmp_path / 'micro'))
    for run_compact, run_micro in zip(compact, micro):
        for key, values in run_compact.items():
            np.testing.assert_allclose(run_micro[key], values, rtol=0, atol=1e-12, err_msg=str(key))
    assert np.abs(compact[1]['err', 0]).max() > 1e-3          # errors do reach the first layer
    for a, b in zip(w_compact, w_micro):
        np.testing.assert_array_equal(a, b)


def test_microcircuit_instantaneous_errors_and_random_feedback():
    layers = [Layer(3, 'tanh', tau_m=1 * ms, tau_r=0.1 * ms, gamma=0.5, prospective_errors=False),
              Layer(2, 'linear', tau_m=2 * ms, tau_r=0.5 * ms, gamma=0.5)]
    variables = [v for v in VARIABLES if v != 'v']             # no v with instantaneous errors
    compact, _ = _traces(GLENetwork, layers, 'numpy', None, 'random', variables)
    micro, _ = _traces(MicrocircuitNetwork, layers, 'numpy', None, 'random', variables)
    for key, values in compact[1].items():
        np.testing.assert_allclose(micro[1][key], values, rtol=0, atol=1e-12, err_msg=str(key))


def test_microcircuit_structure():
    layers = [Layer(3, 'tanh', tau_m=1 * ms, tau_r=0.1 * ms), Layer(2, tau_m=1 * ms)]
    net = MicrocircuitNetwork(1, layers, dt=0.01 * ms, device='numpy', loss='mse')
    assert [g.name for g in net.neurons] == ['layer_0', 'layer_1']
    assert [g.name for g in net.error_neurons] == ['error_0', 'error_1']
    assert [len(link) for link in net.links] == [3, 3, 2, 2]                 # one-to-one
    assert 'v' in error_equations().diff_eq_names and 'v' not in representation_equations().names
    assert 'u' in representation_equations().diff_eq_names and 'u' not in error_equations().names
    with pytest.raises(GLEConfigError, match='learning'):
        MicrocircuitNetwork(1, layers, dt=0.01 * ms, device='numpy', learning=object())


def test_microcircuit_rejects_batches():
    with pytest.raises(GLEConfigError, match=r'batch=4: the microcircuit form runs one copy'):
        MicrocircuitNetwork(1, [Layer(2, tau_m=1 * ms)], dt=0.01 * ms, device='numpy', batch=4)
