"""Truncated BPTT for LagLine (models/lagline_bptt.py): exact gradients, forward dynamics, learning."""
import numpy as np
import pytest
from brian2 import ms

from gle_brian import Layer
from gle_brian.reference import forward_rates
from models import lagline, lagline_bptt


def test_backward_equals_finite_differences():
    """A short window from a non-zero state, dt = 0.02 ms so that the taus act within 80 steps."""
    rng = np.random.default_rng(3)
    steps, batch, dt, tau_r = 80, 3, 0.02, 0.1
    x, target = rng.uniform(-1, 1, (steps, batch)), rng.uniform(0, 2, (steps, batch))
    state = {'u': rng.normal(size=(2, batch)), 'r': rng.uniform(0, 1, (2, batch))}
    params = {'w': np.array([0.7, 1.4]), 'tau_m': np.array([0.3, 0.5])}

    def loss(w, tau_m):
        return lagline_bptt.backward(lagline_bptt.forward(x, w, tau_m, state, dt, tau_r), target)[0]

    _, grad_w, grad_tau_m = lagline_bptt.backward(lagline_bptt.forward(x, state=state, dt=dt, tau_r=tau_r, **params),
                                                  target)
    for name, gradient in (('w', grad_w), ('tau_m', grad_tau_m)):
        for l in range(2):
            h = 1e-6 * params[name][l]
            plus, minus = dict(params), dict(params)
            plus[name], minus[name] = params[name].copy(), params[name].copy()
            plus[name][l] += h
            minus[name][l] -= h
            numeric = (loss(**plus) - loss(**minus)) / (2 * h)
            assert gradient[l] == pytest.approx(numeric, rel=1e-6), (name, l)   # measured: <= 3e-8


def test_forward_equals_numpy_mirror():
    """From rest, the window forward pass gives the rates of forward_rates (the reference step), row by row."""
    x = np.random.default_rng(0).uniform(-1, 1, (3000, 3))
    w, tau_m = (0.7, 1.4), (0.3, 1.7)
    cache = lagline_bptt.forward(x, w, tau_m, lagline_bptt.initial_state(3), dt=0.01, tau_r=0.1)
    layers = [Layer(1, 'softplus', tau_m=tau * ms, tau_r=0.1 * ms) for tau in tau_m]
    for k in range(3):
        rates = forward_rates(layers, [np.array([[value]]) for value in w], 0.01 * ms, x[:, k:k + 1])[-1][:, 0]
        np.testing.assert_allclose(cache['rates_after'][:, k], rates, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(cache['output'][1:, k], cache['rates_after'][:-1, k])
    # two windows in a row carry the state over exactly
    first = lagline_bptt.forward(x[:1000], w, tau_m, lagline_bptt.initial_state(3), dt=0.01, tau_r=0.1)
    second = lagline_bptt.forward(x[1000:], w, tau_m, first['state'], dt=0.01, tau_r=0.1)
    np.testing.assert_allclose(second['output'], cache['output'][1000:], rtol=0, atol=1e-14)


def test_forward_checks_its_input():
    with pytest.raises(ValueError, match='expected \\(steps, batch\\)'):
        lagline_bptt.forward(np.zeros((10, 2)), (1, 1), (1, 1), lagline_bptt.initial_state(3), 0.01, 0.1)
    with pytest.raises(ValueError, match='must be >= dt'):
        lagline_bptt.forward(np.zeros((10, 3)), (1, 1), (0.001, 1), lagline_bptt.initial_state(3), 0.01, 0.1)


def test_bptt_tw4_learns(tmp_path):
    """200 ms of training, batch 4: the loss falls and the parameters move (numpy, whatever the device)."""
    metrics, curves = lagline.run('bptt_tw4', train=200.0, batch=4, device='cpp_standalone')
    assert metrics['device'] == 'numpy (no Brian2)' and metrics['window_steps'] == 400
    assert metrics['lr'] == pytest.approx(4e-2)
    assert metrics['loss_end'] < metrics['loss_start'] / 10, metrics          # measured: 0.33 -> 2.2e-4
    assert min(metrics['tau_m_ms']) >= 0.1 and metrics['w'] != metrics['w_start']
    assert curves['r'].shape == curves['t'].shape == curves['w0'].shape
    lagline.plot([(metrics, curves)], tmp_path / 'lagline.png')
    assert (tmp_path / 'lagline.png').stat().st_size > 10000
