"""A plain numpy mirror of the reference discrete step (docs/model.rst, section 'The discrete step').

This is the oracle the Brian2 network is tested against, and the speed baseline of the benchmarks.
It reads the same :class:`~gle_brian.neurons.Layer` specifications as the Brian2 builder. Every layer
is computed from the values stored before the step; new values are written after all layers.

Example::

    >>> import numpy as np
    >>> from brian2 import ms
    >>> from gle_brian import Layer
    >>> from gle_brian.reference import ReferenceNetwork
    >>> layers = [Layer(3, 'tanh', tau_m=1*ms, tau_r=0.1*ms), Layer(1, tau_m=1*ms)]
    >>> ref = ReferenceNetwork(2, layers, [np.ones((3, 2)), np.ones((1, 3))], dt=0.01*ms, beta=0.1)
    >>> out = ref.run(np.zeros((100, 2)), np.zeros((100, 1)))['r'][-1]   # output-layer rates
"""
import numpy as np

from .neurons import STATE_VARIABLES

__all__ = ['ReferenceNetwork', 'forward_rates']

#: state variables recorded by :meth:`ReferenceNetwork.run`: those of the Brian2 neurons
VARIABLES = STATE_VARIABLES


class ReferenceNetwork:
    """Numpy mirror of the GLE step for a batch of ``batch`` independent copies.

    Parameters
    ----------
    n_in : int
        Input size.
    layers : list of Layer
        Layer specifications (hidden layers, then the output layer).
    weights : list of ndarray
        ``W_l`` of shape ``(n_l, n_{l-1})``.
    dt : Quantity
        Time step.
    biases : list of ndarray or None
        ``b_l`` of shape ``(n_l,)``; zeros when omitted.
    feedback : list of ndarray or None
        Feedback matrices ``B_l`` (shape of ``W_l``) for feedback alignment; ``None`` means ``W_l``.
    beta : float
        Output error strength.
    loss : 'mse' or 'ce'
        Output error ``beta * (target - r)`` or ``beta * (target - softmax(r))`` (cross-entropy).
    batch : int
        Number of independent copies (with ``learning``, gradients are averaged over them).
    learning : Learning or None
        Plasticity as in :class:`~gle_brian.network.GLENetwork`: the optimiser steps after the whole step.
    """

    def __init__(self, n_in, layers, weights, dt, biases=None, feedback=None, beta=1.0, batch=1, learning=None,
                 loss='mse'):
        self.dt = float(dt)
        self.n_in = n_in
        self.layers = list(layers)
        self.beta = float(beta)
        self.loss = loss
        self.W = [np.array(w, dtype=float) for w in weights]
        self.b = [np.zeros(l.size) if biases is None or biases[k] is None else np.array(biases[k], dtype=float)
                  for k, l in enumerate(self.layers)]
        self.B = self.W if feedback is None else [np.array(f, dtype=float) for f in feedback]
        self.tau_m, self.tau_r, self.phi, self.phi_prime = [], [], [], []
        for layer in self.layers:
            tau_m, tau_r = layer.time_constants(self.dt)
            phi, phi_prime = layer.check().numpy_functions()
            self.tau_m.append(tau_m)
            self.tau_r.append(tau_r)
            self.phi.append(phi)
            self.phi_prime.append(phi_prime)
        self.state = {name: [np.zeros((batch, l.size)) for l in self.layers] for name in VARIABLES}
        self.learning = learning
        if learning is not None:
            rates = learning.learning_rates(len(self.layers))
            self.tau_m_min = learning.min_tau_m(self.dt) if learning.tau_m else None
            self.optimiser_state = []
            for l, layer in enumerate(self.layers):
                params = {'W': self.W[l].shape} if learning.weights else {}
                params.update({'b': layer.size} if learning.biases and layer.bias else {})
                params.update({'tau_m': layer.size} if learning.tau_m else {})
                self.optimiser_state.append({p: dict(learning.optimiser.numpy_state(shape), lr=rates[l])
                                             for p, shape in params.items()})

    def _learn(self, gradients):
        """One optimiser step on every learned parameter, from ``gradients[l][name]``."""
        optimiser, unit = self.learning.optimiser, float(self.learning.time_unit)
        for l, states in enumerate(self.optimiser_state):
            for name, state in states.items():
                delta = optimiser.numpy_step(state, gradients[l][name])
                if name == 'W':
                    self.W[l] -= delta         # in place: symmetric feedback (B is W) follows
                elif name == 'b':
                    self.b[l] = self.b[l] - delta
                else:
                    self.tau_m[l] = np.clip(self.tau_m[l] - delta*unit, self.tau_m_min, np.inf)

    def step(self, x, target=None, learn=False):
        """Advance one step with input ``x`` (shape ``(batch, n_in)``), optional ``target``; ``learn``: plasticity."""
        old = self.state
        new = {name: [None] * len(self.layers) for name in VARIABLES}
        gradients = []
        top = len(self.layers) - 1
        for l, layer in enumerate(self.layers):
            rho = x if l == 0 else old['r'][l - 1]
            if l < top:
                apical = old['I_apical'][l]
            elif target is None:
                apical = np.zeros_like(old['r'][l])
            else:
                r = old['r'][l]
                # softmax_k = 1/sum_j exp(r_j - r_k), differences clipped at 700, as in the generated code
                prediction = 1 / np.exp(np.clip(r[:, None, :] - r[:, :, None], None, 700)).sum(axis=2) \
                    if self.loss == 'ce' else r
                apical = self.beta * (target - prediction)
            eps = old['r_prime'][l] * apical
            if layer.prospective_errors:
                v_dot = (eps - old['v'][l]) / self.tau_r[l]
                new['v'][l] = old['v'][l] + self.dt * v_dot
                err = old['v'][l] + self.tau_m[l] * v_dot
            else:
                new['v'][l] = eps
                err = eps
            s = rho @ self.W[l].T
            u_dot = (s + self.b[l] + layer.gamma * err - old['u'][l]) / self.tau_m[l]
            new['u'][l] = old['u'][l] + self.dt * u_dot
            u_breve = old['u'][l] + self.tau_r[l] * u_dot
            new['u_breve'][l] = u_breve
            new['r'][l] = self.phi[l](u_breve)
            new['r_prime'][l] = self.phi_prime[l](u_breve)
            new['err'][l] = err
            new['I_basal'][l] = s
            if l > 0:
                new['I_apical'][l - 1] = err @ self.B[l]
            if learn:       # batch means of -e r^T, -e and e du/dt in the time unit (docs/model.rst, 'Plasticity')
                gradients.append({'W': -(err.T @ rho) / len(err), 'b': -err.mean(axis=0),
                                  'tau_m': (err * u_dot).mean(axis=0) * float(self.learning.time_unit)})
        new['I_apical'][top] = apical
        self.state = new
        if learn:
            self._learn(gradients)

    def run(self, X, Y=None, learn=None):
        """Run over ``X`` (shape ``(T, n_in)`` or ``(T, batch, n_in)``), targets ``Y`` likewise.

        ``learn`` switches plasticity on or off; ``None`` means on when ``Y`` is given and the network
        has ``learning``.

        Returns a dict ``variable -> list over layers of arrays (T, batch, n_l)`` holding the state
        stored after each step (the same values Brian2 monitors record at the end of a step).
        """
        X = np.asarray(X, dtype=float)
        X = X[:, None, :] if X.ndim == 2 else X
        Y = None if Y is None else np.asarray(Y, dtype=float)
        Y = Y[:, None, :] if Y is not None and Y.ndim == 2 else Y
        learn = (Y is not None if learn is None else learn) and self.learning is not None
        traces = {name: [np.empty((len(X),) + s.shape) for s in self.state[name]] for name in VARIABLES}
        for n in range(len(X)):
            self.step(X[n], None if Y is None else Y[n], learn)
            for name in VARIABLES:
                for l, value in enumerate(self.state[name]):
                    traces[name][l][n] = value
        return traces


def forward_rates(layers, weights, dt, x, biases=None):
    """Rates of every layer, stored after each step, when no error flows (no target: inference).

    Without errors each neuron is the linear recursion of the reference step (``u^{n+1} = u^n + dt u_dot``,
    ``u_breve = u^n + tau_r u_dot``, ``u_dot = (s - u^n)/tau_m``) followed by phi, so a layer is one
    ``scipy.signal.lfilter`` per neuron: the same numbers as :class:`ReferenceNetwork` up to round-off,
    much faster (a teacher network for a student, say).

    ``x`` has shape ``(T, n_in)``; returns a list over layers of arrays ``(T, n_l)``.

    Example::

        >>> from brian2 import ms
        >>> from gle_brian import Layer
        >>> layers = [Layer(3, 'tanh', tau_m=1*ms, tau_r=0.1*ms), Layer(1, tau_m=1*ms)]
        >>> output = forward_rates(layers, [np.ones((3, 2)), np.ones((1, 3))], 0.01*ms, np.ones((100, 2)))[-1]
    """
    from scipy.signal import lfilter      # here: importing scipy.signal takes a second, every process would pay it
    dt, rate_before, rates = float(dt), np.asarray(x, dtype=float), []
    for l, layer in enumerate(layers):
        tau_m, tau_r = layer.time_constants(dt)
        phi, _ = layer.check().numpy_functions()
        s = rate_before @ np.asarray(weights[l], dtype=float).T + (0.0 if biases is None else biases[l])
        u_after = np.column_stack([lfilter([dt / tau], [1.0, -(1.0 - dt / tau)], s[:, k]) for k, tau in enumerate(tau_m)])
        u = np.vstack([np.zeros((1, layer.size)), u_after[:-1]])
        rate_after = phi(u + tau_r * (s - u) / tau_m)
        rates.append(rate_after)
        rate_before = np.vstack([np.zeros((1, layer.size)), rate_after[:-1]])
    return rates
