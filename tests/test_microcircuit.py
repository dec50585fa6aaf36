"""The microcircuit form computes exactly what the compact network computes, learning included."""
import numpy as np
import pytest
from brian2 import ms

from gle_brian import Adam, GLEConfigError, GLEGraph, GLENetwork, Layer, Learning
from gle_brian.microcircuit import MicrocircuitGraph, MicrocircuitNetwork, error_equations, representation_equations
from gle_brian.reference import VARIABLES


def _traces(cls, layers, device, directory, feedback='symmetric', variables=VARIABLES, learning=None, reset=None,
            batch=1, loss='mse'):
    rng = np.random.default_rng(7)
    net = cls(2, layers, dt=0.01 * ms, device=device, loss=loss, beta=0.2, seed=5, feedback=feedback,
              biases=[rng.normal(size=layer.size) for layer in layers], record=variables, directory=directory,
              learning=learning, batch=batch)
    traces = []
    n_out = layers[-1].size
    for run in range(2):        # the state carries over between runs
        target = rng.normal(size=(80, batch, n_out)) if loss == 'mse' else \
            np.eye(n_out)[rng.integers(n_out, size=(80, batch))]
        net.run(rng.normal(size=(80, batch, 2)), target=target)
        traces.append({(v, l): net.trace(v, l) for v in variables for l in range(len(layers))})
        if run == 0:            # error neurons follow the time constants of their representation neurons
            net.set_tau_m(np.linspace(1, 3, layers[0].size) * ms, layer=0)
            if reset is not None:
                net.reset_state(reset)
    return traces, net.weights + net.biases + [np.asarray(tau) for tau in net.tau_m]


LEARNING = Learning(Adam(lr=1e-3), tau_m=True)


@pytest.mark.parametrize('device, learning, batch, loss', [
    ('numpy', None, 1, 'mse'), ('numpy', LEARNING, 1, 'mse'), ('numpy', LEARNING, 3, 'ce'),
    pytest.param('cpp_standalone', LEARNING, 3, 'ce', marks=pytest.mark.standalone)],
    ids=['numpy-static', 'numpy-learning', 'numpy-learning-batch-ce', 'cpp_standalone-learning-batch-ce'])
def test_microcircuit_matches_compact_network(device, mixed_layers, tmp_path, learning, batch, loss):
    """Rates, errors and (with plasticity of W, b and tau_m) every parameter, against the compact network
    on numpy (which equals the compact network on every target, test_targets), also for a batch with the
    cross-entropy loss. The compiled microcircuit leaves out the middle layer (the same kinds of code as the
    first; a third less to compile)."""
    layers = mixed_layers if device == 'numpy' else [mixed_layers[0], mixed_layers[-1]]
    options = dict(learning=learning, batch=batch, loss=loss)
    compact, p_compact = _traces(GLENetwork, layers, 'numpy', None, **options)
    micro, p_micro = _traces(MicrocircuitNetwork, layers, device, str(tmp_path / 'micro'), **options)
    for run_compact, run_micro in zip(compact, micro):
        for key, values in run_compact.items():
            np.testing.assert_allclose(run_micro[key], values, rtol=0, atol=1e-12, err_msg=str(key))
    assert np.abs(compact[1]['err', 0]).max() > 1e-3          # errors do reach the first layer
    for a, b in zip(p_compact, p_micro):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-15)
    if learning is not None:                                   # the parameters did change
        assert np.abs(p_compact[0] - _traces(GLENetwork, layers, 'numpy', None, batch=batch, loss=loss)[1][0]
                      ).max() > 1e-4


def test_microcircuit_instantaneous_errors_and_random_feedback():
    layers = [Layer(3, 'tanh', tau_m=1 * ms, tau_r=0.1 * ms, gamma=0.5, prospective_errors=False),
              Layer(2, 'linear', tau_m=2 * ms, tau_r=0.5 * ms, gamma=0.5)]
    variables = [v for v in VARIABLES if v != 'v']             # no v with instantaneous errors
    compact, _ = _traces(GLENetwork, layers, 'numpy', None, 'random', variables)
    micro, _ = _traces(MicrocircuitNetwork, layers, 'numpy', None, 'random', variables)
    for key, values in compact[1].items():
        np.testing.assert_allclose(micro[1][key], values, rtol=0, atol=1e-12, err_msg=str(key))


def test_microcircuit_reset_state_matches_compact_network(mixed_layers):
    """reset_state sets both populations of a layer to rest, as the compact network's one."""
    compact, _ = _traces(GLENetwork, mixed_layers, 'numpy', None, reset=[0, 2])
    micro, _ = _traces(MicrocircuitNetwork, mixed_layers, 'numpy', None, reset=[0, 2])
    carried, _ = _traces(GLENetwork, mixed_layers, 'numpy', None)
    for key, values in compact[1].items():
        np.testing.assert_allclose(micro[1][key], values, rtol=0, atol=1e-12, err_msg=str(key))
    assert np.abs(compact[1]['v', 0][0] - carried[1]['v', 0][0]).max() > 1e-3


def test_microcircuit_structure():
    layers = [Layer(3, 'tanh', tau_m=1 * ms, tau_r=0.1 * ms), Layer(2, tau_m=1 * ms)]
    net = MicrocircuitNetwork(1, layers, dt=0.01 * ms, device='numpy', loss='mse')
    assert [g.name for g in net.neurons] == ['layer_0', 'layer_1']
    assert [g.name for g in net.error_neurons] == ['layer_0_error', 'layer_1_error']
    assert [len(link) for link in net.links] == [3, 3, 2, 2]                 # one-to-one
    assert 'v' in error_equations().diff_eq_names and 'v' not in representation_equations().names
    assert 'u' in representation_equations().diff_eq_names and 'u' not in error_equations().names
    with pytest.raises(GLEConfigError, match='learning'):
        MicrocircuitNetwork(1, layers, dt=0.01 * ms, device='numpy', learning=object())


def test_microcircuit_graph_matches_the_graph():
    """A graph in microcircuit form (lateral and top-down loops, sparse and signed projections, two outputs, one of
    them sending projections, batch 2, cross-entropy, Adam on W, b and tau_m) computes the graph's numbers."""
    from test_graph import POPULATIONS, PROJECTIONS
    learning = Learning(Adam(lr=0.01), tau_m=True, tau_m_min=0.05 * ms)
    kwargs = dict(dt=0.01 * ms, loss='ce', beta=0.5, batch=2, learning=learning, output=['L23', 'out'],
                  device='numpy', seed=7, feedback='random', record=VARIABLES)
    graph, micro = (cls(3, POPULATIONS, PROJECTIONS, **kwargs) for cls in (GLEGraph, MicrocircuitGraph))
    assert [g.name for g in micro.error_neurons] == ['L4_error', 'inh_error', 'L23_error', 'out_error']
    rng = np.random.default_rng(2)
    for _ in range(2):
        x = rng.normal(size=(100, 2, 3))
        y = np.concatenate([np.eye(n)[rng.integers(0, n, (100, 2))] for n in (4, 3)], axis=2)
        for net in (graph, micro):
            net.run(x, y)
        for v in VARIABLES:
            for q in range(4):
                np.testing.assert_allclose(micro.trace(v, q), graph.trace(v, q), rtol=0, atol=1e-12, err_msg=f'{v} {q}')
    for a, b in zip(graph.weights + graph.biases + graph.tau_m, micro.weights + micro.biases + micro.tau_m):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-12, atol=1e-15)
