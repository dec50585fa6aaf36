"""Truncated backpropagation through time (BPTT) through the reference step of a feedforward GLE network.

The network is a chain ``input -> layer 0 -> ... -> layer L-1`` without biases, run with the explicit Euler
step of the reference (docs/model.rst, section 'The discrete step') **without any error nudging**
(``gamma*e = 0``: the pure forward dynamics). Per layer ``l``, from the values stored before step ``n``::

    s = W_l rho,   u_dot = (s - u^n)/tau_m,   u^{n+1} = u^n + dt u_dot,   u_breve = u^n + tau_r u_dot,
    r^{n+1} = phi_l(u_breve),

with ``rho = x[n]`` for layer 0 and ``rho = r_{l-1}^n`` above it (one step of delay per layer). The loss of
a window of steps ``n = 0 .. N-1`` is::

    L = scale * sum over n of  mean over the batch of  sum over the outputs of (r_out^n - target^n)**2,

with ``r_out^n`` the output rate stored **before** step n. :func:`backward` differentiates it exactly (for
the discrete step, not a continuous approximation) with respect to every ``W_l`` and every neuron's
``tau_m`` by a hand-written reverse pass through the window's steps. The state stored at the window start
is a constant: no gradient crosses a window boundary, so the window's first output gets none.

Within a window the parameters are fixed, so each neuron is a linear recursion followed by phi, and both
passes run as ``scipy.signal.lfilter`` calls over the whole window and batch (one per group of neurons
with equal time constants). ``dt``, ``tau_m`` and ``tau_r`` share one time unit (1 a.u. = 1 ms in the
models); the gradients with respect to ``tau_m`` are in 1/(that unit).

Used by the truncated-BPTT baselines of LagLine (``models/lagline_bptt.py``) and the LagNet student that
learns from the exact adjoint (``models/lagnet.py``).

Example: a 1 -> 2 -> 1 network, one window of 300 steps from rest, batch 4::

    >>> import numpy as np
    >>> weights = [np.array([[0.5], [-1.0]]), np.array([[1.0, 0.5]])]
    >>> tau_m, tau_r = [np.array([1.0, 1.0]), np.array([1.0])], [np.array([1.0, 0.1]), np.array([1.0])]
    >>> x = np.random.default_rng(0).uniform(-1, 1, (300, 4, 1))                 # (steps, batch, n_in)
    >>> cache = forward(x, weights, tau_m, tau_r, ['tanh', 'linear'], initial_state([2, 1], 4), dt=0.01)
    >>> loss, gradients = backward(cache, target=np.zeros((300, 4, 1)), scale=0.5 * 0.01)
    >>> [g.shape for g in gradients['W']], [g.shape for g in gradients['tau_m']]
    ([(2, 1), (1, 2)], [(2,), (1,)])
"""
import functools

import numpy as np

from .activations import get_activation

__all__ = ['initial_state', 'layer_parameters', 'forward', 'backward']


def initial_state(sizes, batch):
    """The stored state at rest: ``{'u': [...], 'r': [...]}``, one zero array ``(batch, n_l)`` per layer.

    ``sizes`` lists the layer sizes ``[n_0, ..., n_{L-1}]``. Example: ``initial_state([2, 2, 1], batch=1)``.
    """
    return {'u': [np.zeros((batch, n)) for n in sizes], 'r': [np.zeros((batch, n)) for n in sizes]}


def layer_parameters(layers, unit):
    """``(tau_m, tau_r, activations)`` of :class:`~gle_brian.Layer` specifications, for :func:`forward`.

    ``tau_m`` and ``tau_r`` are lists of float arrays ``(n_l,)`` in ``unit`` (a Brian2 time unit, e.g.
    ``ms``); ``activations`` holds each layer's activation. ``gamma``, biases and error options are ignored
    (no errors flow). Example: ``layer_parameters([Layer(2, 'tanh', tau_m=1*ms, tau_r=0.1*ms)], ms)``.
    """
    tau_m, tau_r, activations = [], [], []
    for layer in layers:
        tm, tr = layer.time_constants(0.0)           # seconds
        tau_m.append(tm / float(unit))
        tau_r.append(tr / float(unit))
        activations.append(layer.activation)
    return tau_m, tau_r, activations


def _functions(activation):
    """``(phi, phi_prime)`` for numpy of an activation name, :class:`~gle_brian.activations.Activation`, or pair."""
    if isinstance(activation, tuple):
        return activation
    return _numpy_functions(activation)


@functools.lru_cache(maxsize=None)
def _numpy_functions(activation):
    """``(phi, phi_prime)`` of a name or :class:`~gle_brian.activations.Activation` (compiled once)."""
    return get_activation(activation).numpy_functions()


def _groups(tau_m, tau_r):
    """Neurons with equal ``(tau_m, tau_r)``: a list of ``(indices, tau_m, tau_r)``."""
    groups = {}
    for index, pair in enumerate(zip(tau_m.tolist(), tau_r.tolist())):
        groups.setdefault(pair, []).append(index)
    return [(np.array(indices), tm, tr) for (tm, tr), indices in groups.items()]


def _lfilter(b, a, x, zi=None):
    """``scipy.signal.lfilter`` along the time axis 0 (``(y, zf)`` with ``zi``)."""
    from scipy.signal import lfilter      # here: importing scipy.signal takes a second
    return lfilter(b, a, x, axis=0) if zi is None else lfilter(b, a, x, axis=0, zi=zi)


def forward(x, weights, tau_m, tau_r, activations, state, dt):
    """Run ``len(x)`` Euler steps from ``state`` without errors; returns the cache :func:`backward` needs.

    ``x`` (steps, batch, n_in): input rates; ``weights``: ``W_l`` of shape ``(n_l, n_{l-1})``; ``tau_m``,
    ``tau_r``: per layer one value or an array ``(n_l,)``, in the unit of ``dt``; ``activations``: per layer
    a name (``'tanh'``), an :class:`~gle_brian.activations.Activation` or a ``(phi, phi_prime)`` pair;
    ``state``: from :func:`initial_state` or a previous cache's ``'state'``. The cache holds ``output``
    (steps, batch, n_out), the output rates stored **before** each step; ``rates_after``, the output rates
    stored after each step; ``state``, the stored state after the last step; and per layer ``rho``
    (presynaptic rates), ``u_dot`` and ``u_breve`` (steps, batch, n_l) in ``layers``.

    Example: ``forward(np.ones((100, 1, 1)), [np.ones((1, 1))], [1.0], [0.1], ['tanh'],
    initial_state([1], 1), dt=0.01)['rates_after']``.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 3 or x.shape[1:] != (state['u'][0].shape[0], np.shape(weights[0])[1]):
        raise ValueError(f'x has shape {x.shape}; expected (steps, batch, n_in) with batch = '
                         f'{state["u"][0].shape[0]} as in state and n_in = {np.shape(weights[0])[1]}.')
    steps, batch = x.shape[:2]
    rate_before, layers = x, []
    new_state = {'u': [], 'r': []}
    tau_m = [np.broadcast_to(np.asarray(t, dtype=float), (np.shape(w)[0],)) for t, w in zip(tau_m, weights)]
    tau_r = [np.broadcast_to(np.asarray(t, dtype=float), (np.shape(w)[0],)) for t, w in zip(tau_r, weights)]
    if min(t.min() for t in tau_m + tau_r) < dt:
        raise ValueError(f'tau_m and tau_r must be >= dt={dt} (Euler stability); the smallest is '
                         f'{min(t.min() for t in tau_m + tau_r)}.')
    for l, w in enumerate(weights):
        w = np.asarray(w, dtype=float)
        phi, _ = _functions(activations[l])
        s = rate_before @ w.T
        u_after = np.empty_like(s)
        for cols, tm, _ in _groups(tau_m[l], tau_r[l]):
            a = dt / tm
            u_after[:, :, cols], _ = _lfilter([a], [1.0, -(1.0 - a)], s[:, :, cols],
                                              zi=(1.0 - a) * state['u'][l][None][:, :, cols])
        u = np.concatenate([state['u'][l][None], u_after[:-1]])          # stored before each step
        u_dot = (s - u) / tau_m[l]
        u_breve = u + tau_r[l] * u_dot
        rate_after = phi(u_breve)
        layers.append({'rho': rate_before, 'u_dot': u_dot, 'u_breve': u_breve})
        new_state['u'].append(u_after[-1].copy())
        new_state['r'].append(rate_after[-1].copy())
        rate_before = np.concatenate([state['r'][l][None], rate_after[:-1]])
    return {'output': rate_before, 'rates_after': rate_after, 'state': new_state, 'layers': layers,
            'weights': [np.asarray(w, dtype=float) for w in weights], 'tau_m': tau_m, 'tau_r': tau_r,
            'activations': list(activations), 'dt': dt}


def backward(cache, target, scale=1.0):
    """The window loss and its exact gradients: ``(L, {'W': [dL/dW_l], 'tau_m': [dL/dtau_m_l]})``.

    ``cache`` comes from :func:`forward`; ``target`` (steps, batch, n_out) is compared with
    ``cache['output']``; ``L = scale * sum_n mean_batch sum_k (output - target)**2`` (``scale = 1``: the
    reference's per-step MSE summed over the window for one output; ``scale = dt/2``: the continuous
    ``1/2 integral of (output - target)**2 dt``). The gradients have the shapes of ``W_l`` and ``(n_l,)``.
    Example: see the module docstring.
    """
    output = cache['output']
    if np.shape(target) != output.shape:
        raise ValueError(f'target has shape {np.shape(target)}; expected {output.shape} (steps, batch, n_out).')
    diff = output - target
    loss = float(scale * (diff ** 2).sum(axis=2).mean(axis=1).sum())
    steps, batch = output.shape[:2]
    dt = cache['dt']
    # the output before step n+1 is the rate after step n; the last rate after the window is not compared
    g_rate_after = np.concatenate([2.0 * scale * diff[1:] / batch, np.zeros((1,) + diff.shape[1:])])
    grad_w, grad_tau_m = [None] * len(cache['weights']), [None] * len(cache['weights'])
    for l in reversed(range(len(cache['weights']))):
        layer, tau_m, tau_r = cache['layers'][l], cache['tau_m'][l], cache['tau_r'][l]
        _, phi_prime = _functions(cache['activations'][l])
        g_u_breve = g_rate_after * phi_prime(layer['u_breve'])
        g_u = np.empty_like(g_u_breve)              # dL/du before each step
        for cols, tm, tr in _groups(tau_m, tau_r):
            a, k = dt / tm, tr / tm                  # u_after = (1-a) u + a s ; u_breve = (1-k) u + k s
            g_u[:, :, cols] = _lfilter([1.0 - k], [1.0, -(1.0 - a)], g_u_breve[::-1][:, :, cols])[::-1]
        a, k = dt / tau_m, tau_r / tau_m
        g_s = k * g_u_breve + a * np.concatenate([g_u[1:], np.zeros((1,) + g_u.shape[1:])])
        grad_w[l] = np.tensordot(g_s, layer['rho'], axes=([0, 1], [0, 1]))
        grad_tau_m[l] = -(g_s * layer['u_dot']).sum(axis=(0, 1))          # d(a, k)/dtau_m = -(a, k)/tau_m
        g_rho = g_s[1:] @ cache['weights'][l]        # layer l-1's rate before step n+1 = its rate after step n
        g_rate_after = np.concatenate([g_rho, np.zeros((1,) + g_rho.shape[1:])])
    return loss, {'W': grad_w, 'tau_m': grad_tau_m}
