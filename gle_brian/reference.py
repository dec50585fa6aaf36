"""A plain numpy mirror of the reference discrete step (GLE_MODEL.md, section 1.3).

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

__all__ = ['ReferenceNetwork']

#: state variables recorded by :meth:`ReferenceNetwork.run` (same names as the Brian2 neurons)
VARIABLES = ('u', 'v', 'u_breve', 'r', 'r_prime', 'err', 'I_basal', 'I_apical')


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
        Output error strength (MSE: ``beta * (target - r)``).
    batch : int
        Number of independent copies.
    """

    def __init__(self, n_in, layers, weights, dt, biases=None, feedback=None, beta=1.0, batch=1):
        self.dt = float(dt)
        self.n_in = n_in
        self.layers = list(layers)
        self.beta = float(beta)
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

    def step(self, x, target=None):
        """Advance one step with input ``x`` (shape ``(batch, n_in)``) and optional ``target``."""
        old = self.state
        new = {name: [None] * len(self.layers) for name in VARIABLES}
        top = len(self.layers) - 1
        for l, layer in enumerate(self.layers):
            rho = x if l == 0 else old['r'][l - 1]
            if l < top:
                apical = old['I_apical'][l]
            elif target is None:
                apical = np.zeros_like(old['r'][l])
            else:
                apical = self.beta * (target - old['r'][l])
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
        new['I_apical'][top] = apical
        self.state = new

    def run(self, X, Y=None):
        """Run over ``X`` (shape ``(T, n_in)`` or ``(T, batch, n_in)``), targets ``Y`` likewise.

        Returns a dict ``variable -> list over layers of arrays (T, batch, n_l)`` holding the state
        stored after each step (the same values Brian2 monitors record at the end of a step).
        """
        X = np.asarray(X, dtype=float)
        X = X[:, None, :] if X.ndim == 2 else X
        Y = None if Y is None else np.asarray(Y, dtype=float)
        Y = Y[:, None, :] if Y is not None and Y.ndim == 2 else Y
        traces = {name: [np.empty((len(X),) + s.shape) for s in self.state[name]] for name in VARIABLES}
        for n in range(len(X)):
            self.step(X[n], None if Y is None else Y[n])
            for name in VARIABLES:
                for l, value in enumerate(self.state[name]):
                    traces[name][l][n] = value
        return traces
