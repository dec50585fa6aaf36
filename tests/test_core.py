"""The Brian2 network reproduces the reference step on every CPU target.

See docs/model.rst, section 'The discrete step'.
"""
import numpy as np
import pytest
from brian2 import ms

from gle_brian import Activation, GLENetwork, Layer, ReferenceNetwork, init_weights
from gle_brian.reference import VARIABLES
from gle_brian.synapses import all_to_all
from bench.make_gpu_reference import parity_layers
from conftest import CPU_DEVICES

DT = 0.01 * ms
STEPS = 2000


def _signals(seed=1, steps=STEPS, n_in=3, n_out=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(steps, n_in)), rng.normal(size=(steps, n_out))


@pytest.fixture(scope='module')
def reference_traces():
    """The parity network (shared with the GPU check) run by the numpy mirror for 2000 steps."""
    rng = np.random.default_rng(0)
    layers = parity_layers()
    biases = [rng.normal(size=4), rng.normal(size=5), rng.normal(size=3)]
    weights = init_weights([3, 4, 5, 3], seed=3)
    x, y = _signals()
    ref = ReferenceNetwork(3, layers, weights, dt=DT, biases=biases, beta=0.1)
    return layers, weights, biases, x, y, ref.run(x, y)


@pytest.fixture(scope='module')
def brian_traces(reference_traces):
    """Each CPU target run once on the parity network, as two runs of 1000 steps (state carries over)."""
    layers, weights, biases, x, y, _ = reference_traces
    results = {}

    def run(device):
        if device not in results:
            net = GLENetwork(3, layers, dt=DT, device=device, loss='mse', beta=0.1, weights=weights,
                             biases=biases, record=VARIABLES)
            half = STEPS // 2
            parts = []
            for chunk in (slice(0, half), slice(half, STEPS)):
                net.run(x[chunk], y[chunk])
                parts.append({v: [net.trace(v, l) for l in range(len(layers))] for v in VARIABLES})
            results[device] = {v: [np.concatenate([p[v][l] for p in parts]) for l in range(len(layers))]
                               for v in VARIABLES}
        return results[device]
    return run


@pytest.mark.parametrize('device', CPU_DEVICES)
def test_matches_reference_step(device, reference_traces, brian_traces):
    *_, expected = reference_traces
    traces = brian_traces(device)
    for variable in VARIABLES:
        for layer, values in enumerate(traces[variable]):
            np.testing.assert_allclose(values, expected[variable][layer][:, 0], rtol=0, atol=1e-12,
                                       err_msg=f'{variable} in layer {layer} on {device}')


@pytest.mark.standalone
def test_targets_agree(brian_traces):
    """numpy, cython and cpp_standalone give the same trajectories."""
    runs = {device: brian_traces(device) for device in ('numpy', 'cython', 'cpp_standalone')}
    for device in ('cython', 'cpp_standalone'):
        for variable in VARIABLES:
            for a, b in zip(runs['numpy'][variable], runs[device][variable]):
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-12, err_msg=f'{variable}: numpy vs {device}')


def test_feedback_alignment_and_user_activation():
    """Fixed random feedback and a user-given activation also match the mirror."""
    swish = Activation('swish', phi='x/(1 + exp(-x))', phi_prime='(1 + exp(-x) + x*exp(-x))/(1 + exp(-x))**2')
    layers = [Layer(4, swish, tau_m=1 * ms, tau_r=0.1 * ms, gamma=0.2),
              Layer(2, 'softplus', tau_m=0.5 * ms, tau_r=0.05 * ms)]
    x, y = _signals(seed=2, steps=500, n_in=2, n_out=2)
    net = GLENetwork(2, layers, dt=DT, device='numpy', loss='mse', beta=0.5, feedback='random', seed=7,
                     record=('r', 'err'))
    net.run(x, y)
    ref = ReferenceNetwork(2, layers, net.weights, dt=DT, feedback=net.feedback_weights, beta=0.5)
    expected = ref.run(x, y)
    assert not np.allclose(net.feedback_weights[1], net.weights[1])
    for variable in ('r', 'err'):
        for layer in range(2):
            np.testing.assert_allclose(net.trace(variable, layer), expected[variable][layer][:, 0], atol=1e-12)
    assert np.abs(net.trace('err', 0)).max() > 1e-3      # errors did reach the hidden layer


def test_prospective_errors_off_is_instantaneous():
    """With prospective_errors=False the error is phi'(u_breve) times the apical input, unfiltered."""
    layers = [Layer(3, 'tanh', tau_m=1 * ms, tau_r=0.1 * ms, prospective_errors=False),
              Layer(1, tau_m=1 * ms, tau_r=0.1 * ms, prospective_errors=False)]
    x, y = _signals(seed=4, steps=300, n_in=2, n_out=1)
    net = GLENetwork(2, layers, dt=DT, device='numpy', loss='mse', beta=1.0, seed=0,
                     record=('err', 'r_prime', 'I_apical'))
    net.run(x, y)
    expected = ReferenceNetwork(2, layers, net.weights, dt=DT, beta=1.0).run(x, y)
    np.testing.assert_allclose(net.trace('err', 0), expected['err'][0][:, 0], atol=1e-12)
    # err[n] = r_prime[n-1] * (apical input used at step n, i.e. the one stored at step n-1)
    err, rp, apical = (net.trace(v, 0) for v in ('err', 'r_prime', 'I_apical'))
    np.testing.assert_allclose(err[1:], rp[:-1] * apical[:-1], atol=1e-15)


@pytest.mark.parametrize('n_pre, n_post, copies', [(1, 1, 1), (3, 5, 2), (40, 70, 3), (100, 100, 1)])
def test_all_to_all_order(n_pre, n_post, copies):
    """Every pair once per copy, the row-major weight index of each, and no neuron hit twice in a row."""
    i, j, k = all_to_all(n_pre, n_post, copies)
    assert len(set(zip(i.tolist(), j.tolist()))) == n_pre * n_post * copies
    np.testing.assert_array_equal(i // n_pre, j // n_post)
    np.testing.assert_array_equal(k, (j % n_post) * n_pre + i % n_pre)
    if min(n_pre, n_post) > 1:
        assert np.mean(np.diff(i) == 0) < 0.05 and np.mean(np.diff(j) == 0) < 0.05
