"""Bad input raises an error that names the parameter and the fix."""
import numpy as np
import pytest
from brian2 import TimedArray, ms, mV

from gle_brian import GLEConfigError, GLEDeviceError, GLEInputError, Layer
from gle_brian.activations import ACTIVATIONS, get_activation
from conftest import small_net

DT = 0.01 * ms




@pytest.mark.parametrize('layer, match', [
    (Layer(3, tau_m=1 * ms, tau_r=0.001 * ms), r'tau_r=.* is below dt=.*make tau_r >= dt'),
    (Layer(3, tau_m=0.005 * ms), r'tau_m=.* is below dt'),
    (Layer(3, tau_m=[1, 1] * ms), r'tau_m has 2 values but the layer has size=3'),
    (Layer(3, tau_m=1.0), r'tau_m=1.0 must be a time, e.g. tau_m=10\*ms'),
    (Layer(3), r'tau_m is missing'),
    (Layer(3, 'swish', tau_m=1 * ms), r"activation='swish' is not known.*Activation\(name"),
    (Layer(0, tau_m=1 * ms), r'size=0'),
])
def test_bad_layer(layer, match):
    with pytest.raises(GLEConfigError, match=match):
        small_net(layers=[layer])


def test_bad_groups():
    with pytest.raises(GLEConfigError, match=r'counts \[2, 2\] add up to 4, but size=5'):
        Layer(5, 'tanh').with_groups((2, 1 * ms, 0.1 * ms), (2, 1 * ms))


def test_groups_mix_time_constants():
    layer = Layer(5, 'tanh').with_groups((2, 0.6 * ms, 0.2 * ms), (3, 1.2 * ms))
    tau_m, tau_r = layer.time_constants(float(DT))
    np.testing.assert_allclose(tau_m, [0.6e-3] * 2 + [1.2e-3] * 3)
    np.testing.assert_allclose(tau_r, [0.2e-3] * 2 + [1.2e-3] * 3)


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(device='gpu'), GLEDeviceError, r"device='gpu' is not a code-generation target; use one of"),
    (dict(loss='hinge'), GLEConfigError, r"loss='hinge' is not known"),
    (dict(feedback='mirror'), GLEConfigError, r"feedback='mirror' is not known"),
    (dict(dt=0.01), GLEConfigError, r'dt=0.01 must be a time'),
    (dict(weights=[np.ones((3, 2)), np.ones((3, 1))]), GLEConfigError,
     r'weights\[1\] has shape \(3, 1\), expected \(1, 3\)'),
    (dict(weights=[np.ones((3, 2))]), GLEConfigError,
     r'weights has 1 matrices for 2 projections; give a list with one per projection'),
    (dict(weights=[np.full((3, 2), np.nan), np.ones((1, 3))]), GLEConfigError, r'weights\[0\] contains NaN'),
    (dict(record=('u', 'spikes')), GLEConfigError, r"\['spikes'\] cannot be recorded"),
    (dict(projection='sparse'), GLEConfigError,
     r"projection='sparse' is not known; use one of \['dense', 'synapses'\]"),
])
def test_bad_network_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        small_net(**kwargs)


@pytest.mark.parametrize('x, target, match', [
    (np.zeros((10, 3)), None, r'x has shape \(10, 3\); expected \(steps, 2\)'),
    (np.zeros((10, 2)), np.zeros((9, 1)), r'target has 9 steps, expected 10'),
    (np.zeros((10, 2)), np.zeros((10, 2)), r'target has shape \(10, 2\); expected \(steps, 1\)'),
    (np.array([[0, 1]] * 4 + [[np.nan, 0]]), None, r'x contains NaN or inf \(first at step 4, channel 0\)'),
    (np.zeros((10, 2)), np.r_[np.zeros(9), np.inf][:, None], r'target contains NaN or inf \(first at step 9'),
    (np.zeros((10, 2)) * mV, None, r'x has units'),
    (np.zeros((0, 2)), None, r'x has no time steps'),
])
def test_bad_signals(x, target, match):
    with pytest.raises(GLEInputError, match=match):
        small_net().run(x, target)


def test_target_without_loss():
    with pytest.raises(GLEInputError, match=r"network has no loss; build it with loss='mse'"):
        small_net(loss=None).run(np.zeros((5, 2)), np.zeros((5, 1)))


def test_timed_array_input_needs_duration_and_matches_array():
    x = np.random.default_rng(0).normal(size=(200, 2))
    with pytest.raises(GLEInputError, match='give duration='):
        small_net().run(TimedArray(x, dt=DT))
    nets = [small_net(record=('r',)) for _ in range(2)]
    nets[0].run(TimedArray(x, dt=DT), duration=200 * DT)
    nets[1].run(x)
    np.testing.assert_array_equal(nets[0].trace('r', 1), nets[1].trace('r', 1))


@pytest.mark.parametrize('name', sorted(ACTIVATIONS))
def test_activation_derivatives(name):
    """Each built-in phi' is the derivative of phi (central differences)."""
    phi, phi_prime = get_activation(name).numpy_functions()
    x = np.linspace(-5, 5, 1001) + 1e-3          # avoid relu's kink at 0
    h = 1e-6
    np.testing.assert_allclose(phi_prime(x), (phi(x + h) - phi(x - h)) / (2 * h), atol=1e-8)
    assert np.all(np.isfinite(phi(np.array([-800.0, 800.0]))))
