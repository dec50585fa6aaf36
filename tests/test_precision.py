"""Single precision (``precision='single'``: 32-bit floats in the state and the generated code, as the
published code computes) against the double-precision numpy mirror."""
import warnings

import numpy as np
import pytest
from brian2 import ms, prefs

from gle_brian import GLEConfigError, GLENetwork, Layer, ReferenceNetwork
from gle_brian.optimisers import Adam, Learning
from gle_brian.reference import VARIABLES

STEPS = 500


def test_single_precision_follows_the_double_precision_mirror(device, mixed_layers, tmp_path):
    """1000 steps (two runs) with Adam (lr 1e-3) on W, b and tau_m: every variable within 1e-5 of the mirror
    (relative to the largest value of its trace; measured 1.7e-6, 3e-7 without plasticity), the parameters
    within 1e-5 relative; float32 throughout. Larger learning rates amplify the round-off (lr 1e-2: 4e-5)."""
    layers = [mixed_layers[0], mixed_layers[-1]]
    rng = np.random.default_rng(3)
    weights = [rng.uniform(-1, 1, (4, 3)), rng.uniform(-1, 1, (3, 4))]
    kwargs = dict(dt=0.01 * ms, beta=0.5, loss='mse', learning=Learning(Adam(lr=1e-3), tau_m=True,
                                                                         tau_m_min=0.05 * ms))
    net = GLENetwork(3, layers, weights=weights, device=device, record=VARIABLES, precision='single',
                     directory=str(tmp_path), **kwargs)
    ref = ReferenceNetwork(3, layers, weights, **kwargs)
    worst = 0.0
    for _ in range(2):
        x, y = rng.normal(size=(STEPS, 3)), rng.normal(size=(STEPS, 3))
        net.run(x, y)
        expected = ref.run(x, y)
        for name in VARIABLES:
            for l in range(len(layers)):
                trace, exact = net.trace(name, l), expected[name][l][:, 0]
                assert trace.dtype == np.float32, name
                scale = max(np.abs(exact).max(), 1e-30)
                np.testing.assert_allclose(trace, exact, rtol=0, atol=1e-5 * scale, err_msg=f'{name} in layer {l}')
                worst = max(worst, np.abs(trace - exact).max() / scale)
    for l in range(len(layers)):
        assert net.weights[l].dtype == np.float32
        np.testing.assert_allclose(net.weights[l], ref.W[l], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(net.biases[l], ref.b[l], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(net.tau_m[l]), ref.tau_m[l], rtol=1e-5)
    assert worst > 1e-9          # it really computed in single precision (double: below 1e-12)


def test_precision_is_checked_and_brian2s_default_restored():
    """Brian2's default float type is this network's only while it builds and runs."""
    layers = [Layer(2, 'tanh', tau_m=1 * ms, tau_r=0.1 * ms)]
    with pytest.raises(GLEConfigError, match="precision='half' is not known; use 'double'"):
        GLENetwork(1, layers, dt=0.01 * ms, device='numpy', precision='half')
    net = GLENetwork(1, layers, dt=0.01 * ms, device='numpy', precision='single', record=['u'])
    with warnings.catch_warnings():
        warnings.simplefilter('error')          # Brian2's check of float32 states warns of nothing
        net.run(np.ones(10))
    assert prefs.core.default_float_dtype == np.float64 and net.trace('u', 0).dtype == np.float32
