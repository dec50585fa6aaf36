"""Truncated backpropagation through time for the LagLine chain (the BPTT baselines of paper Fig. 5).

The student chain 1 -> 1 -> 1 (softplus, no bias, look-ahead ``tau_r``) runs the reference's explicit
Euler step (docs/model.rst, section 'The discrete step') without any error nudging (``gamma*e = 0``: the
pure forward dynamics).
Training cuts time into windows; for each window the loss

    L = sum over the window's steps n of  mean over the batch of (r_out^n - target^n)**2

(the reference's per-step ``MSE(out, target)``, no factor 1/2; ``r_out^n`` is the output rate stored
before step n) is differentiated exactly with respect to ``w = (w0, w1)`` and ``tau_m = (tau_m0, tau_m1)``
by a hand-written reverse pass through the window's Euler steps, one Adam step follows, ``tau_m`` is
clamped, and the state is carried into the next window as a constant (no gradient crosses a window
boundary, so the first output of a window gets none). The backward pass is exact for the discrete
step: it equals finite differences of ``L`` (tests/test_lagline_bptt.py).

Within a window the parameters are fixed, so each layer is a linear recursion followed by phi, and both
passes run as ``scipy.signal.lfilter`` calls over the whole window and batch (numpy only, no Brian2): the
chain is a 1 -> 1 -> 1 network of :mod:`gle_brian.bptt`, which holds the forward and reverse passes.
Times are in ms (1 a.u. = 1 ms), gradients with respect to ``tau_m`` in 1/ms.

Example::

    >>> import numpy as np
    >>> x = np.random.default_rng(0).uniform(-1, 1, (400, 4))              # (steps, batch)
    >>> cache = forward(x, w=(0.5, 1.5), tau_m=(0.8, 1.2), state=initial_state(4), dt=0.01, tau_r=0.1)
    >>> loss, grad_w, grad_tau_m = backward(cache, target=np.zeros((400, 4)))

Run the three baselines (windows of 4, 2, 1 ms) from the command line (same options as models.lagline)::

    python -m models.lagline_bptt --train 4000 --batch 100 --out results/lagline
"""
import sys

import numpy as np

from gle_brian import bptt
from gle_brian.activations import get_activation
from gle_brian.optimisers import Adam

__all__ = ['initial_state', 'forward', 'backward', 'train']

ACTIVATION = get_activation('softplus')


def initial_state(batch):
    """The chain's stored state at rest: ``u`` and ``r`` of both layers, arrays of shape ``(2, batch)``."""
    return {'u': np.zeros((2, batch)), 'r': np.zeros((2, batch))}


def forward(x, w, tau_m, state, dt, tau_r):
    """Run ``len(x)`` Euler steps of the chain from ``state``, without errors; returns what backward needs.

    ``x`` (steps, batch): input rates; ``w``, ``tau_m`` (ms): per layer; ``dt``, ``tau_r`` in ms. The
    returned dict holds ``output`` (steps, batch), the output rate stored **before** each step;
    ``rates_after`` (steps, batch), the output rate stored after each step; ``state``, the stored state
    after the last step; and in ``network`` the cache of :func:`gle_brian.bptt.forward` (which runs the steps).

    Example: ``forward(np.ones((100, 2)), (1, 2), (1, 2), initial_state(2), 0.01, 0.1)['output']``.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != state['u'].shape[1]:
        raise ValueError(f'x has shape {x.shape}; expected (steps, batch) with batch = {state["u"].shape[1]} '
                         'as in state.')
    if min(tau_m) < dt or tau_r < dt:
        raise ValueError(f'tau_m={tuple(tau_m)} and tau_r={tau_r} must be >= dt={dt} (Euler stability).')
    network = bptt.forward(x[:, :, None], [np.array([[value]], dtype=float) for value in w], list(tau_m),
                           [tau_r, tau_r], [ACTIVATION, ACTIVATION],
                           {name: [values[:, None] for values in state[name]] for name in ('u', 'r')}, dt)
    new_state = {name: np.stack([values[:, 0] for values in network['state'][name]]) for name in ('u', 'r')}
    return {'output': network['output'][:, :, 0], 'rates_after': network['rates_after'][:, :, 0],
            'state': new_state, 'network': network}


def backward(cache, target):
    """The window loss and its exact gradients: ``(L, dL/dw, dL/dtau_m)``, the latter two of shape (2,).

    ``cache`` comes from :func:`forward`; ``target`` (steps, batch) is compared with ``cache['output']``.
    The stored state at the window start is a constant. Example: see the module docstring.
    """
    output = cache['output']
    if np.shape(target) != output.shape:
        raise ValueError(f'target has shape {np.shape(target)}; expected {output.shape} (steps, batch).')
    loss, gradients = bptt.backward(cache['network'], np.asarray(target, dtype=float)[:, :, None])
    return (loss, np.array([g[0, 0] for g in gradients['W']]), np.array([g[0] for g in gradients['tau_m']]))


def train(x, target, w, tau_m, window, learn_from, lr, dt, tau_r, tau_m_min, record_every):
    """Truncated BPTT over ``x`` (steps, batch): one Adam(``lr``) step per ``window`` steps from step ``learn_from``.

    Before ``learn_from`` the chain runs forward only. ``tau_m`` (ms) is clamped to ``>= tau_m_min`` after
    each Adam step; a last window shorter than ``window`` also takes a step. Every ``record_every`` steps
    (from step 0) the output rate after the step (all batch rows) and the parameters in use are logged.
    Returns ``(traces, w, tau_m)``: traces ``r`` (logged, batch) and ``w0, w1, tau_m0, tau_m1`` (logged,).

    Example: ``train(x, target, (0.5, 0.5), (0.5, 0.5), 400, 5000, 4e-2, 0.01, 0.1, 0.1, 10)``.
    """
    steps, batch = np.shape(x)
    if window < 1 or learn_from < 0:
        raise ValueError(f'window={window} must be >= 1 step and learn_from={learn_from} >= 0.')
    w, tau_m = np.array(w, dtype=float), np.array(tau_m, dtype=float)
    adam = Adam(lr=lr)
    optimiser = {'w': adam.numpy_state(2), 'tau_m': adam.numpy_state(2)}
    state = initial_state(batch)
    logged = np.arange(0, steps, record_every)
    traces = {'r': np.empty((len(logged), batch)),
              **{name: np.empty(len(logged)) for name in ('w0', 'w1', 'tau_m0', 'tau_m1')}}
    edges = sorted({0, *range(learn_from, steps, window), steps})
    for begin, end in zip(edges[:-1], edges[1:]):
        cache = forward(x[begin:end], w, tau_m, state, dt, tau_r)
        rows = slice(-(-begin // record_every), -(-end // record_every))     # logged steps in [begin, end)
        traces['r'][rows] = cache['rates_after'][logged[rows] - begin]
        for l in range(2):
            traces[f'w{l}'][rows], traces[f'tau_m{l}'][rows] = w[l], tau_m[l]
        if begin >= learn_from:
            _, grad_w, grad_tau_m = backward(cache, target[begin:end])
            w = w - adam.numpy_step(optimiser['w'], grad_w)
            tau_m = np.maximum(tau_m - adam.numpy_step(optimiser['tau_m'], grad_tau_m), tau_m_min)
        state = cache['state']
    return traces, w, tau_m


def main(argv=None):
    """``models.lagline`` with the three BPTT variants (further options are passed on)."""
    from models import lagline
    argv = sys.argv[1:] if argv is None else list(argv)
    return lagline.main(['--variant', *lagline.BPTT_WINDOWS, *argv])


if __name__ == '__main__':
    main()
