"""A GLE network as a plain record: its populations, projections, outputs and options, every one checked.

:class:`NetworkSpec` takes the arguments of :class:`~gle_brian.network.GLENetwork` and holds them checked and
resolved (time constants per neuron, shapes, connections, initial weights and biases, learning rates); it builds
nothing. :func:`gle_brian.builder.build` turns it into Brian2 objects; the fronts (:mod:`gle_brian.network`,
:mod:`gle_brian.graph`, :mod:`gle_brian.microcircuit`) are a record plus the builder plus a runner. A
:class:`Wiring` says how the populations are connected (a chain through the layers by default).

Example::

    >>> from brian2 import ms
    >>> from gle_brian import Layer
    >>> spec = NetworkSpec(2, [Layer(3, 'tanh', tau_m=1*ms), Layer(1, tau_m=1*ms)], dt=0.1*ms, seed=1)
    >>> spec.shapes
    [(3, 2), (1, 3)]
"""
import dataclasses
import hashlib

import numpy as np
from brian2 import defaultclock, prefs

from . import checks, devices, neurons
from .checks import check_number
from .dense import check_serial
from .errors import GLEConfigError
from .neurons import Layer
from .optimisers import Learning
from .projections import draw_weights
from .reference import INPUT
from .synapses import FEEDBACK_MODES

__all__ = ['NetworkSpec', 'Wiring', 'LOSSES', 'RECORDABLE', 'PROJECTIONS', 'PRECISIONS']

LOSSES = (None, 'mse', 'ce')

#: variables every layer can record (``'w'``: the weights of the layer's incoming projection)
RECORDABLE = neurons.STATE_VARIABLES + ('b', 'tau_m', 'w')

#: how all-to-all projections are computed (``GLENetwork(projection=...)``)
PROJECTIONS = ('dense', 'synapses')

#: floating-point types of ``GLENetwork(precision=...)``
PRECISIONS = {'double': np.float64, 'single': np.float32}


@dataclasses.dataclass(frozen=True)
class Wiring:
    """How the populations of a network are connected: a plain record (the layered default: a chain).

    ``names``: the Brian2 name of each population's group; ``projections``: ``(pre, post)`` per projection,
    ``pre`` a population's index or ``'input'``; ``outputs``: the populations with an output error;
    ``feedback``: per projection its feedback mode or ``None`` (the network's); ``plastic``: per projection
    whether its weights learn; ``labels``: populations in words, for messages (``None``: 'layer l').
    """
    names: tuple
    projections: tuple
    outputs: tuple
    feedback: tuple
    plastic: tuple
    labels: tuple = None

    @classmethod
    def chain(cls, n_layers):
        """The layered network: input -> layer 0 -> ... -> layer n-1, the output error on the last."""
        return cls(tuple(f'layer_{l}' for l in range(n_layers)),
                   tuple((INPUT if l == 0 else l - 1, l) for l in range(n_layers)), (n_layers - 1,),
                   (None,) * n_layers, (True,) * n_layers)


class NetworkSpec:
    """The checked record of a GLE network (the arguments of :class:`~gle_brian.network.GLENetwork`, which
    documents them). Attributes: the arguments, resolved (``dt``, ``layers``, ``activations``, ``time_constants``
    per neuron in seconds, ``sizes``, ``shapes`` ``(n_post, n_pre)`` and ``projection_specs`` ``(pre, post)`` per
    projection, ``connectivity``, ``signs``, ``feedback_modes``, ``initial_weights``, ``initial_biases``,
    ``random_feedback``, ``outputs``, ``n_out``, ``learning_rates``, ``tau_m_min``, ``group_names``)."""

    #: build every population in microcircuit form (representation and error neurons)
    microcircuit = False

    def __init__(self, n_in, layers, dt=None, device='numpy', loss=None, beta=1.0, weights=None,
                 biases=None, feedback='symmetric', feedback_weights=None, seed=None, record=(),
                 record_dt=None, learning=None, batch=1, record_layers=None, precision=None,
                 projection=None, connect=None, signs=None, wiring=None):
        self.device = devices.check_device(device)
        if projection is None:
            projection = 'dense'
        if projection not in PROJECTIONS:
            raise GLEConfigError(f'projection={projection!r} is not known; use one of {list(PROJECTIONS)} '
                                 "(None: 'dense').")
        if projection == 'dense':
            check_serial(self.device)
        self.projection = projection
        if precision is None:                    # the user's Brian2 preference
            precision = 'single' if np.dtype(prefs.core.default_float_dtype) == np.float32 else 'double'
        if precision not in PRECISIONS:
            raise GLEConfigError(f"precision={precision!r} is not known; use 'double' (64 bit, the default) or "
                                 "'single' (32 bit).")
        self.precision = precision
        self.dt = checks.check_dt(defaultclock.dt if dt is None else dt)
        self.n_in = checks.check_size(n_in, 'n_in')
        self.batch = checks.check_size(batch, 'batch')
        if not isinstance(layers, (list, tuple)) or not layers or not all(isinstance(layer, Layer) for layer in layers):
            raise GLEConfigError(f'layers={layers!r} must be a non-empty list of Layer objects (a single layer in a '
                                 'list too), e.g. layers=[Layer(3, "tanh", tau_m=1*ms)].')
        self.layers = list(layers)
        self.activations = [layer.check() for layer in self.layers]
        self.time_constants = [layer.time_constants(float(self.dt)) for layer in self.layers]
        self.sizes = [self.n_in] + [layer.size for layer in self.layers]
        self.wiring = wiring or Wiring.chain(len(self.layers))
        self.group_names = list(self.wiring.names)
        self.outputs = list(self.wiring.outputs)
        self.n_out = sum(self.layers[l].size for l in self.outputs)     # target channels
        self.projection_specs = list(self.wiring.projections)
        self.shapes = [(self.layers[post].size, self.n_in if pre == INPUT else self.layers[pre].size)
                       for pre, post in self.projection_specs]           # (n_post, n_pre) of every projection
        if loss not in LOSSES:
            raise GLEConfigError(f'loss={loss!r} is not known; use one of {list(LOSSES)}.')
        self.loss = loss
        self.beta = beta
        if feedback not in FEEDBACK_MODES:
            raise GLEConfigError(f'feedback={feedback!r} is not known; use one of {list(FEEDBACK_MODES)}.')
        self.feedback = feedback
        if seed is None:                         # from numpy's generator, which Brian2's seed() sets
            seed = int(np.random.randint(2 ** 31 - 1))
        self.seed = seed
        self.connectivity = checks.check_connect(connect, self.shapes, seed, self.describe)
        self.signs = checks.check_signs(signs, len(self.shapes))
        drawn = draw_weights(self.shapes, self.connectivity, seed)
        self.initial_weights = checks.constrain(
            checks.check_matrices(weights, 'weights', drawn, self.shapes, self.connectivity), self.signs,
            None if weights is None else [w is None for w in weights])
        self.initial_biases = checks.check_biases(biases, [layer.size for layer in self.layers])
        self.feedback_modes = [mode or feedback for mode in self.wiring.feedback]
        self.random_feedback = None   # per projection a matrix, or its values at the synapses (see draw_weights)
        if 'random' in self.feedback_modes:
            self.random_feedback = checks.check_matrices(
                feedback_weights, 'feedback_weights',
                draw_weights(self.shapes, self.connectivity, None if seed is None else seed + 1), self.shapes,
                self.connectivity)
        if isinstance(record, str):
            raise GLEConfigError(f'record={record!r} is one string; give a list of names, e.g. record=[{record!r}].')
        unknown = sorted(set(record) - set(RECORDABLE))
        if unknown:
            raise GLEConfigError(f'record={list(record)!r}: {unknown} cannot be recorded; choose from '
                                 f'{list(RECORDABLE)}.')
        self.record = tuple(record)
        self.record_layers = set(range(len(self.layers)) if record_layers is None
                                 else self.check_layers(record_layers, 'record_layers'))
        self.record_dt = checks.check_interval(record_dt, self.dt, 'record_dt')
        if learning is not None and not isinstance(learning, Learning):
            raise GLEConfigError(f'learning={learning!r}: give a Learning, e.g. learning=Learning(Adam(lr=1e-4)).')
        self.learning = learning
        if learning is not None:
            self.learning_rates = learning.learning_rates(len(self.layers))
            self.tau_m_min = learning.min_tau_m(self.dt) if learning.tau_m else None
            for l, (tau_m, _) in enumerate(self.time_constants):
                self.check_tau_m_clamp(tau_m, f'layers[{l}].tau_m')


    def label(self, l):
        """Layer ``l`` in words, for messages."""
        return f'layer {l}' if self.wiring.labels is None else self.wiring.labels[l]

    def describe(self, k):
        """Projection ``k`` in words, for error messages."""
        pre, post = self.projection_specs[k]
        if self.wiring.labels is not None:
            return f'projection {k}: {pre if pre == INPUT else self.group_names[pre]} -> {self.group_names[post]}'
        return f'the projection {"input" if pre == INPUT else f"layer {pre}"} -> layer {post}'

    def incoming(self, layer):
        """The index of the one projection into ``layer``, whose weights are the layer's ``'w'``."""
        into = [k for k, (_, post) in enumerate(self.projection_specs) if post == layer]
        if len(into) != 1:
            raise GLEConfigError(f"'w' of layer {layer}: {len(into)} projections reach it; read net.weights (one "
                                 'matrix per projection) instead.')
        return into[0]

    def settings(self):
        """How the network was built, as far as its state depends on it: a JSON-able dict.

        The form (class), sizes, ``dt`` and ``batch`` (seconds, plain numbers); per layer the activation,
        ``tau_m`` and ``tau_r`` per neuron, ``gamma``, bias and error form; the projections ``[pre, post,
        feedback mode]``, the
        synapses of sparse ones (16 hex digits of the SHA-256 of their indices), the sign constraints and the
        layers with an output error; the loss and ``beta``; the
        feedback (random feedback weights as 16 hex digits of the SHA-256 of their values: the matrices of all-to-all
        projections, the values at the synapses of sparse ones); the learning (optimiser, its
        hyperparameters, the initial learning rate of each layer, what learns, the ``tau_m`` clamp).
        Left out: the device, the recording and the initial weights and biases, which a state replaces.
        Checkpoints store it and refuse to load into a network whose settings differ. Example::

            >>> net.settings()['layers'][0]['activation']['name']          # doctest: +SKIP
            'tanh'
        """
        learning = self.learning
        feedback = (None if self.random_feedback is None else hashlib.sha256(
            np.concatenate([w.ravel() for w in self.random_feedback]).tobytes()).hexdigest()[:16])
        return {
            'form': type(self).__name__, 'n_in': self.n_in, 'dt': float(self.dt), 'batch': self.batch,
            'precision': self.precision, 'projection': self.projection,
            'layers': [{'size': int(layer.size), 'activation': dataclasses.asdict(activation),
                        'tau_m': tau_m.tolist(), 'tau_r': tau_r.tolist(), 'gamma': float(layer.gamma),
                        'bias': bool(layer.bias), 'prospective_errors': bool(layer.prospective_errors)}
                       for layer, activation, (tau_m, tau_r) in zip(self.layers, self.activations,
                                                                    self.time_constants)],
            'projections': [[*spec, mode] for spec, mode in zip(self.projection_specs, self.feedback_modes)],
            'connect': [None if c is None else
                        hashlib.sha256(np.concatenate(c).astype(np.int64).tobytes()).hexdigest()[:16]
                        for c in self.connectivity],
            'signs': self.signs, 'outputs': self.outputs,
            'loss': self.loss, 'beta': self.beta, 'feedback': self.feedback, 'feedback_weights': feedback,
            'learning': None if learning is None else {
                'optimiser': type(learning.optimiser).__name__,
                'hyperparameters': {name: float(value) for name, value in
                                    dataclasses.asdict(learning.optimiser).items() if name != 'lr'},
                'learning_rates': learning.learning_rates(len(self.layers)), 'weights': bool(learning.weights),
                'biases': bool(learning.biases), 'tau_m': bool(learning.tau_m), 'tau_m_min': self.tau_m_min,
                'time_unit': float(learning.time_unit)},
        }

    # --- checks ----------------------------------------------------------------------------------

    @property
    def beta(self):
        """The output error strength of the runs with a target (a number >= 0; a new value counts from the next run)."""
        return self._beta

    @beta.setter
    def beta(self, value):
        self._beta = check_number(value, 'beta', '0.1')

    def check_signal(self, signal, name, width, steps=None):
        """An input or target as a float array of shape (steps, batch*width) (:func:`gle_brian.checks.check_signal`)."""
        return checks.check_signal(signal, name, width, self.batch, self.dt, steps)

    def check_layer(self, layer, name='layer'):
        """The index 0 .. L-1 of ``layer``, counted from the input side or, when negative, from the output."""
        n = len(self.layers)
        if not isinstance(layer, (int, np.integer)) or isinstance(layer, bool) or not -n <= layer < n:
            raise GLEConfigError(f'{name}={layer!r} is not a layer of this {n}-layer network; give layer indices '
                                 f'0..{n - 1}, or -1 for the output layer.')
        return int(layer) % n

    def check_layers(self, layers, name):
        """A list of layer indices (see :meth:`check_layer`)."""
        if isinstance(layers, (str, int, np.integer)) or not np.iterable(layers):
            raise GLEConfigError(f'{name}={layers!r} must be a list of layer indices, e.g. {name}=[-1].')
        return [self.check_layer(l, f'{name}[{k}]') for k, l in enumerate(layers)]

    def check_tau_m_clamp(self, tau_m, name):
        """Learned time constants must start at or above their clamp ``tau_m_min`` (seconds)."""
        if self.learning is not None and self.learning.tau_m and tau_m.min() < self.tau_m_min * (1 - 1e-12):
            raise GLEConfigError(f'{name}={tau_m.min()} s is below the clamp of learned time constants, '
                                 f'tau_m_min={self.tau_m_min} s; raise {name} or lower Learning(tau_m_min=...).')
