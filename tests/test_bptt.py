"""Truncated BPTT through the reference step (gle_brian/bptt.py) on the LagNet network: exact gradients, the
forward dynamics, and the continuous adjoint of models/lagnet.py."""
import numpy as np
import pytest
from brian2 import ms

from gle_brian import bptt
from gle_brian.data import sines
from gle_brian.reference import forward_rates
from models import lagnet

SIZES = [2, 2, 1]
W_START = np.array([[0.61], [0.616]])        # about models.lagnet's start W1 (seed 5)


def network():
    """LagNet's time constants (ms) and activations, without nudging."""
    return bptt.layer_parameters(lagnet.layers(gamma=0.0), ms)


def test_backward_equals_finite_differences():
    """A 2 ms window from a non-zero state, batch 2, a full W2: every weight and every tau_m."""
    rng = np.random.default_rng(7)
    steps, batch, dt = 200, 2, 0.01
    tau_m, tau_r, activations = network()
    state = {'u': [rng.normal(size=(batch, n)) for n in SIZES], 'r': [rng.uniform(-1, 1, (batch, n)) for n in SIZES]}
    x, target = rng.uniform(-1, 1, (steps, batch, 1)), rng.uniform(-1, 1, (steps, batch, 1))
    weights = [W_START, np.array([[0.5, 0.2], [-0.3, 1.0]]), np.array([[0.5, 1.0]])]

    def loss(w, tm):
        return bptt.backward(bptt.forward(x, w, tm, tau_r, activations, state, dt), target, scale=dt / 2)[0]

    _, gradients = bptt.backward(bptt.forward(x, weights, tau_m, tau_r, activations, state, dt), target,
                                 scale=dt / 2)
    for name, params in (('W', weights), ('tau_m', tau_m)):
        for l, values in enumerate(params):
            assert gradients[name][l].shape == values.shape
            for index in np.ndindex(values.shape):
                h = 1e-6 * max(abs(values[index]), 1.0)
                plus, minus = [p.copy() for p in params], [p.copy() for p in params]
                plus[l][index] += h
                minus[l][index] -= h
                pair = ((plus, tau_m), (minus, tau_m)) if name == 'W' else ((weights, plus), (weights, minus))
                numeric = (loss(*pair[0]) - loss(*pair[1])) / (2 * h)
                assert gradients[name][l][index] == pytest.approx(numeric, rel=1e-6), (name, l, index)  # <= 1.4e-8


def test_forward_equals_reference_step():
    """From rest, every layer's rates equal forward_rates (the reference step); windows carry the state."""
    t = np.arange(3000) * 0.01
    x = np.column_stack([np.sin(0.49 * t) + np.sin(1.98 * t), np.cos(1.3 * t)])          # batch 2
    tau_m, tau_r, activations = network()
    for weights in (lagnet.TEACHER, [W_START, *lagnet.TEACHER[1:]]):
        cache = bptt.forward(x[:, :, None], weights, tau_m, tau_r, activations, bptt.initial_state(SIZES, 2), 0.01)
        for k in range(2):
            expected = forward_rates(lagnet.layers(), weights, lagnet.DT, x[:, k:k + 1])
            for l in range(2):       # layer l's rate after step n is layer l+1's input before step n+1
                np.testing.assert_allclose(cache['layers'][l + 1]['rho'][1:, k], expected[l][:-1], rtol=0, atol=1e-13)
            np.testing.assert_allclose(cache['rates_after'][:, k], expected[2], rtol=0, atol=1e-13)  # 1.1e-16
        np.testing.assert_array_equal(cache['output'][1:], cache['rates_after'][:-1])
        first = bptt.forward(x[:1300, :, None], weights, tau_m, tau_r, activations, bptt.initial_state(SIZES, 2), 0.01)
        second = bptt.forward(x[1300:, :, None], weights, tau_m, tau_r, activations, first['state'], 0.01)
        np.testing.assert_allclose(second['output'], cache['output'][1300:], rtol=0, atol=1e-14)


def test_inputs_are_checked():
    tau_m, tau_r, activations = network()
    state = bptt.initial_state(SIZES, 2)
    with pytest.raises(ValueError, match='expected \\(steps, batch, n_in\\)'):
        bptt.forward(np.zeros((10, 3, 1)), lagnet.TEACHER, tau_m, tau_r, activations, state, 0.01)
    with pytest.raises(ValueError, match='must be >= dt'):
        bptt.forward(np.zeros((10, 2, 1)), lagnet.TEACHER, tau_m, tau_r, activations, state, 0.5)
    cache = bptt.forward(np.zeros((10, 2, 1)), lagnet.TEACHER, tau_m, tau_r, activations, state, 0.01)
    with pytest.raises(ValueError, match='expected \\(10, 2, 1\\)'):
        bptt.backward(cache, np.zeros((10, 2)))


def continuous_versus_exact(dt, w1):
    """Relative difference (max over W1's entries, over the largest exact entry) between the exact gradient of
    a 3 ms window loss after 20 ms and -integral of lambda x dt with lambda from models.lagnet.adjoint.

    ``lagnet.DT`` must be ``dt`` ms. The window loss is 1/2 sum (output - target)^2 dt; the adjoint runs on
    the window and 2 ms past it with lambda_out = 0 there, so that its backward difference sees lambda's
    jump at the window's end (the continuous adjoint of a loss that stops at the window's end).
    """
    warm, window, pad = (int(round(duration / dt)) for duration in (20.0, 3.0, 2.0))
    x = sines((warm + window + pad) * lagnet.DT, lagnet.DT, lagnet.FREQUENCIES)
    teacher = forward_rates(lagnet.layers(), lagnet.TEACHER, lagnet.DT, x)[-1][:, 0]
    target = np.concatenate([[0.0], teacher[:-1]])[:, None, None]      # the teacher's output before each step
    tau_m, tau_r, activations = network()
    weights = [w1, *lagnet.TEACHER[1:]]
    start = bptt.forward(x[:warm, None], weights, tau_m, tau_r, activations, bptt.initial_state(SIZES, 1), dt)
    cache = bptt.forward(x[warm:warm + window, None], weights, tau_m, tau_r, activations, start['state'], dt)
    exact = bptt.backward(cache, target[warm:warm + window], scale=dt / 2)[1]['W'][0][:, 0]
    longer = bptt.forward(x[warm:, None], weights, tau_m, tau_r, activations, start['state'], dt)
    rates = longer['rates_after'][:, 0, 0]
    curves = {'r': rates, **{f'u_breve{l}': longer['layers'][l]['u_breve'][:, 0] for l in range(2)}}
    y = np.concatenate([teacher[warm:warm + window], rates[window:]])        # lambda_out = y - r = 0 past the end
    lam = lagnet.adjoint(curves, weights, y, window + pad)
    continuous = -(lam * x[warm:]).sum(axis=0) * dt
    return np.abs(continuous - exact).max() / np.abs(exact).max()


def test_exact_gradient_agrees_with_the_continuous_adjoint(monkeypatch):
    """The difference is first order in dt: 4.6 % and 4.0 % at dt = 0.01 ms (two start weights), halving
    with dt (9.4, 4.6, 2.3, 1.1 % for dt = 0.02 ... 0.0025 ms). About 2/3 of it is the discrete step's delay
    of one step per layer, which the continuous adjoint lacks (pairing lambda with x two steps earlier
    leaves 1.2 %); the rest is the adjoint's own discretisation (exp(-dt/tau_m), backward difference)."""
    differences = {}
    for dt in (0.01, 0.005):
        monkeypatch.setattr(lagnet, 'DT', dt * ms)
        differences[dt] = [continuous_versus_exact(dt, w1) for w1 in (W_START, np.array([[-0.3], [0.8]]))]
    assert max(differences[0.01]) < 0.07, differences
    for coarse, fine in zip(differences[0.01], differences[0.005]):
        assert 1.8 < coarse / fine < 2.2, differences                        # measured 2.02, 1.95
