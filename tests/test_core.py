"""The Brian2 network reproduces the reference step (numpy here; every target: test_targets).

See docs/model.rst, section 'The discrete step'.
"""
import numpy as np
import pytest
from brian2 import ms
from brian2.codegen.runtime.numpy_rt import NumpyCodeObject
from brian2.core.functions import DEFAULT_FUNCTIONS

from gle_brian import Activation, GLENetwork, Layer, ReferenceNetwork, init_weights
from gle_brian.reference import VARIABLES
from gle_brian.synapses import all_to_all
from bench.make_gpu_reference import parity_layers

DT = 0.01 * ms
STEPS = 2000


def _signals(seed=1, steps=STEPS, n_in=3, n_out=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(steps, n_in)), rng.normal(size=(steps, n_out))


def test_matches_reference_step():
    """The parity network (shared with the GPU check) on numpy, 2000 steps in two runs (the state carries
    over), without plasticity; the compiled targets, with plasticity: test_targets."""
    rng = np.random.default_rng(0)
    layers = parity_layers()
    biases = [rng.normal(size=4), rng.normal(size=5), rng.normal(size=3)]
    weights = init_weights([3, 4, 5, 3], seed=3)
    x, y = _signals()
    expected = ReferenceNetwork(3, layers, weights, dt=DT, biases=biases, beta=0.1).run(x, y)
    net = GLENetwork(3, layers, dt=DT, device='numpy', loss='mse', beta=0.1, weights=weights, biases=biases,
                     record=VARIABLES)
    for chunk in (slice(0, STEPS // 2), slice(STEPS // 2, STEPS)):
        net.run(x[chunk], y[chunk])
        for variable in VARIABLES:
            for layer in range(len(layers)):
                np.testing.assert_allclose(net.trace(variable, layer), expected[variable][layer][chunk, 0], rtol=0,
                                           atol=1e-12, err_msg=f'{variable} in layer {layer}')


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


def test_numpy_target_calls_log1p_and_expm1_directly():
    """Not through Brian2's unit-checking wrapper, which formats every result (gle_brian/activations.py)."""
    for name in ('log1p', 'expm1'):
        assert DEFAULT_FUNCTIONS[name].implementations[NumpyCodeObject].get_code(None) is getattr(np, name)


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
