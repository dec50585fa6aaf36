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
from collections import namedtuple

import numpy as np

from .neurons import STATE_VARIABLES

__all__ = ['ReferenceGraph', 'ReferenceNetwork', 'ReferenceProjection', 'forward_rates']

#: the ``pre`` of projections from the network's input
INPUT = 'input'

#: state variables recorded by :meth:`ReferenceNetwork.run`: those of the Brian2 neurons
VARIABLES = STATE_VARIABLES


class ReferenceProjection(namedtuple('ReferenceProjection', 'pre post weights feedback sign plastic',
                                     defaults=(None, None, True))):
    """A projection of the mirror: ``pre`` (a population's index, or ``'input'``) onto ``post`` (an index).

    ``weights`` is the matrix ``W`` (``n_post x n_pre``): a numpy array (all-to-all) or a
    ``scipy.sparse`` matrix, whose stored entries are the synapses (the others stay zero while it learns).
    ``feedback``: the matrix that carries ``post``'s errors down to ``pre``, ``None`` for ``W`` itself
    (symmetric); a fixed random matrix for feedback alignment (same shape, and for sparse ``W`` the same
    entries). ``sign``: ``None``, ``+1`` or ``-1``: the weights are clipped to ``>= 0`` or ``<= 0`` after
    every optimiser step (Dale's law). ``plastic=False``: the weights stay fixed while the others learn.
    """


class ReferenceGraph:
    """Numpy mirror of the GLE step on populations wired by projections, for ``batch`` independent copies.

    Every population is computed from the values stored before the step (so a loop, a population onto
    itself included, has one step of delay per synapse in each direction); new values are written after
    all populations. A population's apical input is the sum over its outgoing projections of
    ``feedback^T err_post`` stored at the previous step, plus, for a population in ``outputs`` given a
    target, the output error ``beta * (target - prediction)`` of this step (the prediction ``r`` for
    ``'mse'``, ``softmax(r)`` for ``'ce'``). For a population with an output error and no outgoing
    projection, ``I_apical`` holds that error (as the layered network records it).

    Parameters
    ----------
    n_in : int
        Input size (the input drives the populations that ``'input'`` projections reach).
    populations : list of Layer
        The populations (size, activation, time constants, ``gamma``, bias, error form).
    projections : list of ReferenceProjection
    dt : Quantity
        Time step.
    outputs : list of int
        Populations with an output error; targets are their rates side by side, in this order.
    biases : list of ndarray or None
        ``b`` per population; zeros when omitted.
    beta : float
        Output error strength.
    loss : 'mse' or 'ce'
    batch : int
        Number of independent copies (with ``learning``, gradients are averaged over them).
    learning : Learning or None
        The optimiser steps after the whole step; ``W`` of a projection learns at the rate of its ``post``.

    Example: a population with lateral connections (itself) and a sparse input projection::

        >>> import numpy as np, scipy.sparse
        >>> from brian2 import ms
        >>> from gle_brian import Layer
        >>> rng = np.random.default_rng(0)
        >>> sparse = scipy.sparse.random(4, 2, density=0.5, random_state=1, format='csr')
        >>> graph = ReferenceGraph(2, [Layer(4, 'tanh', tau_m=1*ms, tau_r=1*ms)],
        ...                        [ReferenceProjection('input', 0, sparse),
        ...                         ReferenceProjection(0, 0, 0.1*rng.normal(size=(4, 4)))],
        ...                        dt=0.01*ms, outputs=[0], beta=0.1)
        >>> rates = graph.run(np.ones((10, 2)), np.zeros((10, 4)))['r'][0]        # (10, 1, 4)
    """

    def __init__(self, n_in, populations, projections, dt, outputs, biases=None, beta=1.0, batch=1,
                 learning=None, loss='mse'):
        self.dt = float(dt)
        self.n_in = n_in
        self.layers = list(populations)
        self.outputs = list(outputs)
        self.beta = float(beta)
        self.loss = loss
        self.projections = [p._replace(weights=_matrix(p.weights), feedback=None if p.feedback is None
                                       else _matrix(p.feedback)) for p in projections]
        self.W = [p.weights for p in self.projections]
        self.B = [p.weights if p.feedback is None else p.feedback for p in self.projections]
        self._sending = [[k for k, p in enumerate(self.projections) if p.pre == q] for q in range(len(self.layers))]
        self._sparse = [_synapses(w) for w in self.W]
        self.b = [np.zeros(l.size) if biases is None or biases[k] is None else np.array(biases[k], dtype=float)
                  for k, l in enumerate(self.layers)]
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
        # (parameter, index) -> optimiser state: 'W' by projection, 'b' and 'tau_m' by population
        self.optimiser_state = {}
        if learning is not None:
            rates = learning.learning_rates(len(self.layers))
            self.tau_m_min = learning.min_tau_m(self.dt) if learning.tau_m else None
            optimiser = learning.optimiser
            for k, p in enumerate(self.projections):
                if learning.weights and p.plastic:
                    shape = self.W[k].shape if self._sparse[k] is None else self.W[k].data.shape
                    self.optimiser_state['W', k] = dict(optimiser.numpy_state(shape), lr=rates[p.post])
            for q, layer in enumerate(self.layers):
                if learning.biases and layer.bias:
                    self.optimiser_state['b', q] = dict(optimiser.numpy_state(layer.size), lr=rates[q])
                if learning.tau_m:
                    self.optimiser_state['tau_m', q] = dict(optimiser.numpy_state(layer.size), lr=rates[q])

    def _learn(self, gradients):
        """One optimiser step on every learned parameter, from ``gradients[(parameter, index)]``."""
        optimiser, unit = self.learning.optimiser, float(self.learning.time_unit)
        for (name, k), state in self.optimiser_state.items():
            delta = optimiser.numpy_step(state, gradients[name, k])
            if name == 'W':               # in place: symmetric feedback (B is W) follows
                values = self.W[k] if self._sparse[k] is None else self.W[k].data
                values -= delta
                sign = self.projections[k].sign
                if sign is not None:
                    np.clip(values, 0 if sign > 0 else -np.inf, np.inf if sign > 0 else 0, out=values)
            elif name == 'b':
                self.b[k] = self.b[k] - delta
            else:
                self.tau_m[k] = np.clip(self.tau_m[k] - delta*unit, self.tau_m_min, np.inf)

    def step(self, x, target=None, learn=False):
        """Advance one step with input ``x`` (shape ``(batch, n_in)``), optional ``target`` (the outputs' rates
        side by side); ``learn``: plasticity."""
        old = self.state
        new = {name: [None] * len(self.layers) for name in VARIABLES}
        presynaptic = [x if p.pre == INPUT else old['r'][p.pre] for p in self.projections]
        basal = [None] * len(self.layers)
        for k, p in enumerate(self.projections):
            s = presynaptic[k] @ self.W[k].T if self._sparse[k] is None else (self.W[k] @ presynaptic[k].T).T
            basal[p.post] = s if basal[p.post] is None else basal[p.post] + s
        output_errors = self._output_errors(old['r'], target)
        u_dots = []
        for q, layer in enumerate(self.layers):
            apical = [old['I_apical'][q]] if self._sending[q] else []
            apical += [output_errors[q]] if q in output_errors else []
            apical = sum(apical[1:], apical[0]) if apical else np.zeros_like(old['r'][q])
            eps = old['r_prime'][q] * apical
            if layer.prospective_errors:
                v_dot = (eps - old['v'][q]) / self.tau_r[q]
                new['v'][q] = old['v'][q] + self.dt * v_dot
                err = old['v'][q] + self.tau_m[q] * v_dot
            else:
                new['v'][q] = eps
                err = eps
            s = np.zeros_like(old['u'][q]) if basal[q] is None else basal[q]
            u_dot = (s + self.b[q] + layer.gamma * err - old['u'][q]) / self.tau_m[q]
            u_dots.append(u_dot)
            new['u'][q] = old['u'][q] + self.dt * u_dot
            u_breve = old['u'][q] + self.tau_r[q] * u_dot
            new['u_breve'][q] = u_breve
            new['r'][q] = self.phi[q](u_breve)
            new['r_prime'][q] = self.phi_prime[q](u_breve)
            new['err'][q] = err
            new['I_basal'][q] = s
            new['I_apical'][q] = apical if not self._sending[q] else None
        for q in range(len(self.layers)):         # the feedback each population sends down, for the next step
            for k in self._sending[q]:
                err = new['err'][self.projections[k].post]
                down = err @ self.B[k] if self._sparse[k] is None else (self.B[k].T @ err.T).T
                new['I_apical'][q] = down if new['I_apical'][q] is None else new['I_apical'][q] + down
        self.state = new
        if learn:     # batch means of -e r^T, -e and e du/dt in the time unit (docs/model.rst, 'Plasticity')
            self._learn(self._gradients(presynaptic, new['err'], u_dots))

    def _output_errors(self, rates, target):
        """``{population: beta * (target - prediction)}`` from the rates stored before the step."""
        if target is None:
            return {}
        errors, start = {}, 0
        for q in self.outputs:
            r, y = rates[q], target[:, start:start + self.layers[q].size]
            start += self.layers[q].size
            # softmax_k = 1/sum_j exp(r_j - r_k), differences clipped at 700, as in the generated code
            prediction = 1 / np.exp(np.clip(r[:, None, :] - r[:, :, None], None, 700)).sum(axis=2) \
                if self.loss == 'ce' else r
            errors[q] = self.beta * (y - prediction)
        return errors

    def _gradients(self, presynaptic, errors, u_dots):
        """The drives of this step, by ``(parameter, index)``."""
        gradients, unit = {}, float(self.learning.time_unit)
        for k, p in enumerate(self.projections):
            if ('W', k) not in self.optimiser_state:
                continue
            err, rho = errors[p.post], presynaptic[k]
            if self._sparse[k] is None:
                gradients['W', k] = -(err.T @ rho) / len(err)
            else:
                rows, columns = self._sparse[k]
                gradients['W', k] = -(err[:, rows] * rho[:, columns]).sum(axis=0) / len(err)
        for q, (err, u_dot) in enumerate(zip(errors, u_dots)):
            if ('b', q) in self.optimiser_state:
                gradients['b', q] = -err.mean(axis=0)
            if ('tau_m', q) in self.optimiser_state:
                gradients['tau_m', q] = (err * u_dot).mean(axis=0) * unit
        return gradients

    def run(self, X, Y=None, learn=None):
        """Run over ``X`` (shape ``(T, n_in)`` or ``(T, batch, n_in)``), targets ``Y`` likewise.

        ``learn`` switches plasticity on or off; ``None`` means on when ``Y`` is given and the network
        has ``learning``.

        Returns a dict ``variable -> list over populations of arrays (T, batch, n)`` holding the state
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
                for q, value in enumerate(self.state[name]):
                    traces[name][q][n] = value
        return traces


class ReferenceNetwork(ReferenceGraph):
    """The mirror of a layered :class:`~gle_brian.network.GLENetwork`: a chain of all-to-all projections
    ``input -> layer 0 -> layer 1 -> ...``, the output error on the last layer.

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
    signs : list or None
        Per layer ``None``, ``+1`` or ``-1``: the sign constraint of ``W_l`` (:class:`ReferenceProjection`).
    beta, loss, batch, learning
        As in :class:`ReferenceGraph`.

    ``weights`` (and ``feedback``) may be ``scipy.sparse`` matrices: their stored entries are the synapses.
    """

    def __init__(self, n_in, layers, weights, dt, biases=None, feedback=None, beta=1.0, batch=1, learning=None,
                 loss='mse', signs=None):
        projections = [ReferenceProjection(INPUT if l == 0 else l - 1, l, weights[l],
                                           None if feedback is None else feedback[l],
                                           None if signs is None else signs[l]) for l in range(len(layers))]
        super().__init__(n_in, layers, projections, dt, outputs=[len(layers) - 1], biases=biases, beta=beta,
                         batch=batch, learning=learning, loss=loss)


def _matrix(weights):
    """A float copy of ``weights``: a numpy array, or a CSR matrix for ``scipy.sparse`` input."""
    if hasattr(weights, 'tocsr'):
        matrix = weights.tocsr().astype(float)
        matrix.sort_indices()
        return matrix
    return np.array(weights, dtype=float)


def _synapses(weights):
    """``(rows, columns)`` of the stored entries of a CSR matrix; ``None`` for a dense array."""
    if isinstance(weights, np.ndarray):
        return None
    return np.repeat(np.arange(weights.shape[0]), np.diff(weights.indptr)), weights.indices


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
        u_after = np.column_stack([lfilter([dt / tau], [1.0, -(1.0 - dt / tau)], s[:, k])
                                   for k, tau in enumerate(tau_m)])
        u = np.vstack([np.zeros((1, layer.size)), u_after[:-1]])
        rate_after = phi(u + tau_r * (s - u) / tau_m)
        rates.append(rate_after)
        rate_before = np.vstack([np.zeros((1, layer.size)), rate_after[:-1]])
    return rates
