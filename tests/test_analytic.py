"""Analytic checks C1-C4 (docs/model.rst, section 'Analytic checks'), on the Brian2 network."""
import numpy as np
import pytest
from brian2 import ms

from gle_brian import GLENetwork, Layer

DT = 0.01  # ms; 1 a.u. = 1 ms


def discrete_response(omega, dt, tau_low, tau_ahead):
    """Exact response of one Euler step pair (low-pass tau_low, look-ahead tau_ahead) at frequency omega."""
    k, a = tau_ahead / tau_low, dt / tau_low
    z_inv = np.exp(-1j * omega * dt)
    return (k - (k - a) * z_inv) / (1 - (1 - a) * z_inv)


def fit_sine(signal, t, omega, t_from):
    """Amplitude and phase of ``signal`` relative to sin(omega t), least squares over t > t_from."""
    keep = t > t_from
    basis = np.column_stack([np.sin(omega * t[keep]), np.cos(omega * t[keep])])
    (a, b), *_ = np.linalg.lstsq(basis, signal[keep], rcond=None)
    return np.hypot(a, b), np.arctan2(b, a)


# tau_m, tau_r, omega, |H| and arg H continuous, |H| and arg H discrete (docs/model.rst, 'Analytic checks', C1)
C1_ROWS = [(1, 0.1, 1, 0.7106, -0.6857, 0.7121, -0.6882),
           (1, 1, 1, 1.0, 0.0, 1.0, 0.0),
           (2, 0.1, 0.5, 0.7080, -0.7354, 0.7088, -0.7367),
           (1, 0.1, 2 * np.pi, 0.1856, -0.8520, 0.1839, -0.8740)]


def test_c1_forward_transfer_function():
    """u_breve follows the basal input through H = (1 + i w tau_r)/(1 + i w tau_m)."""
    tau_m, tau_r, omega = (np.array([row[i] for row in C1_ROWS], dtype=float) for i in range(3))
    steps = 6000
    t = np.arange(steps) * DT
    x = np.sin(omega[None, :] * t[:, None])          # one channel and one neuron per row
    net = GLENetwork(4, [Layer(4, 'linear', tau_m=tau_m * ms, tau_r=tau_r * ms)], dt=DT * ms, device='numpy',
                     weights=[np.eye(4)], record=('u', 'u_breve'))
    net.run(x)
    u_breve, u = net.trace('u_breve', 0), net.trace('u', 0)
    for k, (tm, tr, w, amp, phase, amp_d, phase_d) in enumerate(C1_ROWS):
        measured = fit_sine(u_breve[:, k], t, w, 40)
        h = discrete_response(w, DT, tm, tr)
        np.testing.assert_allclose(measured, (abs(h), np.angle(h)), atol=1e-6, err_msg=f'row {k}')
        np.testing.assert_allclose(measured, (amp_d, phase_d), atol=1e-3, err_msg=f'row {k}, table')
        h_cont = (1 + 1j * w * tr) / (1 + 1j * w * tm)
        np.testing.assert_allclose((abs(h_cont), np.angle(h_cont)), (amp, phase), atol=1e-4)
    # the membrane potential alone is a plain low-pass: 0.7089 at -0.7879 for tau_m = 1, w = 1
    # (u^n is stored after step n - 1, so it is compared with the input of step n)
    np.testing.assert_allclose(fit_sine(u[:-1, 0], t[1:], 1.0, 40), (0.7089, -0.7879), atol=1e-3)
    # LE: u_breve equals the basal input at every step, to round-off
    np.testing.assert_allclose(u_breve[:, 1], x[:, 1], atol=1e-14)


@pytest.mark.parametrize('tau_m, tau_r, omega, amp_d, phase_d', [(1, 0.1, 1, 1.4044, 0.6882),
                                                                  (1, 1, 1, 1.0, 0.0)])
def test_c2_error_transfer_function(tau_m, tau_r, omega, amp_d, phase_d):
    """The prospective error follows its input through G = 1/H = (1 + i w tau_m)/(1 + i w tau_r)."""
    steps = 6000
    t = np.arange(steps) * DT
    # zero input weights and gamma = 0 keep r = 0, so the apical input is beta * target = sin(w t)
    net = GLENetwork(1, [Layer(1, 'linear', tau_m=tau_m * ms, tau_r=tau_r * ms)], dt=DT * ms, device='numpy',
                     loss='mse', beta=1.0, weights=[np.zeros((1, 1))], record=('err',))
    net.run(np.zeros(steps), target=np.sin(omega * t))
    measured = fit_sine(net.trace('err', 0)[:, 0], t, omega, 40)
    g = discrete_response(omega, DT, tau_r, tau_m)
    np.testing.assert_allclose(measured, (abs(g), np.angle(g)), atol=1e-6)
    np.testing.assert_allclose(measured, (amp_d, phase_d), atol=1e-3)
    # the continuous G undoes the forward phase lag: G * H = 1
    h = (1 + 1j * omega * tau_r) / (1 + 1j * omega * tau_m)
    assert abs((1 + 1j * omega * tau_m) / (1 + 1j * omega * tau_r) * h - 1) < 1e-12


def static_backprop(x, target, weights, biases):
    """Gradients of C = 1/2 ||target - f(x)||^2 for the tanh/tanh/linear MLP, by hand."""
    rates, derivs = [x], []
    for l, (w, b) in enumerate(zip(weights, biases)):
        a = w @ rates[-1] + b
        linear = l == len(weights) - 1
        rates.append(a if linear else np.tanh(a))
        derivs.append(np.ones_like(a) if linear else 1 - np.tanh(a) ** 2)
    delta = -(target - rates[-1]) * derivs[-1]
    grads = []
    for l in reversed(range(len(weights))):
        grads.insert(0, (np.outer(delta, rates[l]), delta))
        if l:
            delta = (weights[l].T @ delta) * derivs[l - 1]
    return grads


def test_c3_fixed_point_equals_backprop():
    """At a fixed point the plasticity drive -e r_pre^T (and -e) equals beta * dC/dW (and dC/db)."""
    rng = np.random.default_rng(5)
    beta = 0.1
    layers = [Layer(5, 'tanh', tau_m=1 * ms, tau_r=0.1 * ms, bias=True),
              Layer(4, 'tanh', tau_m=0.5 * ms, tau_r=0.05 * ms, bias=True),
              Layer(2, 'linear', tau_m=1 * ms, tau_r=1 * ms, bias=True)]
    weights = [rng.normal(size=s) for s in ((5, 3), (4, 5), (2, 4))]
    biases = [rng.normal(size=n) * 0.5 for n in (5, 4, 2)]
    x, target = rng.normal(size=3), rng.normal(size=2)
    steps = 4000
    net = GLENetwork(3, layers, dt=DT * ms, device='numpy', loss='mse', beta=beta, weights=weights,
                     biases=biases, record=('r', 'err'))
    net.run(np.tile(x, (steps, 1)), np.tile(target, (steps, 1)))
    rates = [x] + [net.trace('r', l)[-1] for l in range(3)]
    for l, (grad_w, grad_b) in enumerate(static_backprop(x, target, weights, biases)):
        err = net.trace('err', l)[-1]
        np.testing.assert_allclose(-np.outer(err, rates[l]), beta * grad_w, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(-err, beta * grad_b, rtol=1e-10, atol=1e-14)


def test_c4_le_pipeline_delay():
    """An LE net with L layers outputs the static MLP of the input L steps back (reference scheme)."""
    rng = np.random.default_rng(6)
    layers = [Layer(6, 'tanh', tau_m=1 * ms), Layer(5, 'tanh', tau_m=0.3 * ms), Layer(2, 'linear', tau_m=2 * ms)]
    weights = [rng.normal(size=s) for s in ((6, 3), (5, 6), (2, 5))]
    x = rng.normal(size=(50, 3))
    net = GLENetwork(3, layers, dt=DT * ms, device='numpy', weights=weights, record=('r',))
    net.run(x)
    stored = net.trace('r', 2)            # stored after step n = the network's output at call n + 1
    f = x.T
    for l, w in enumerate(weights):
        f = w @ f if l == 2 else np.tanh(w @ f)
    n_layers = len(layers)
    # output at call n (stored after call n - 1) equals f(x[n - L])
    output = stored[:-1]                  # output[n - 1] is returned by call n
    np.testing.assert_allclose(output[n_layers - 1:], f.T[:len(x) - n_layers], atol=1e-13)
