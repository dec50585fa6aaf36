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
from brian2 import TimedArray, defaultclock, prefs
from brian2.utils.logger import get_logger

from . import checks, devices, neurons
from .checks import check_number
from .errors import GLEConfigError, GLEInputError
from .neurons import Layer
from .optimisers import Learning
from .projections import draw_weights
from .reference import INPUT
from .synapses import FEEDBACK_MODES

__all__ = ['NetworkSpec', 'Wiring', 'LOSSES', 'RECORDABLE', 'PROJECTIONS', 'PRECISIONS']

logger = get_logger(f'brian2.{__name__}')   # Brian2's handlers show and file it

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
    """The checked record of a GLE network: the arguments of :class:`~gle_brian.network.GLENetwork` (below) and, as
    attributes, what they resolve to (``dt``, ``layers``, ``activations``, ``time_constants``
    per neuron in seconds, ``sizes``, ``shapes`` ``(n_post, n_pre)`` and ``projection_specs`` ``(pre, post)`` per
    projection, ``connectivity``, ``signs``, ``feedback_modes``, ``initial_weights``, ``initial_biases``,
    ``random_feedback``, ``outputs``, ``n_out``, ``learning_rates``, ``tau_m_min``, ``group_names``). Every
    argument is checked here, with an error that names it and the fix.

    Parameters
    ----------
    n_in : int
        Number of input channels.
    layers : list of Layer
        Hidden layers, then the output layer.
    dt : Quantity or None
        Time step of the Euler scheme (e.g. ``0.01*ms`` when 1 a.u. is 1 ms); ``None``: Brian2's ``defaultclock.dt``.
    device : str
        ``'numpy'``, ``'cython'``, ``'cpp_standalone'`` or ``'cuda_standalone'``.
    loss : None, 'mse' or 'ce'
        Output error sent into the output layer's apical dendrite: ``'mse'`` ``beta*(target - r)``;
        ``'ce'`` (cross-entropy on the rates as logits) ``beta*(target - softmax(r))``, with the target
        one-hot (or probabilities) per step.
    beta : float
        Output error strength.
    weights, biases : list of arrays, optional
        ``W_l`` with shape ``(n_l, n_{l-1})`` and ``b_l`` with shape ``(n_l,)``; by default (or for a ``None``
        entry) weights are drawn as in PyTorch's ``nn.Linear`` (see :func:`init_weights`) with ``seed``, and
        biases are zero.
    feedback : 'symmetric' or 'random'
        Errors flow down through ``W^T``, or through fixed random matrices (feedback alignment), given as
        ``feedback_weights`` or drawn like the weights with ``seed + 1``.
    seed : int or None
        Seed of the weight initialisation (and of random connections); ``None``: a seed drawn from numpy's global
        generator, which Brian2's ``seed()`` sets.
    record : sequence of str
        Variables recorded in every layer (any of ``RECORDABLE``), every ``record_dt``, e.g. ``['r', 'err']``.
    record_dt : Quantity or None
        Sampling interval of the recording, a whole multiple of ``dt`` (default: ``dt``).
    record_layers : sequence of int or None
        Layers whose variables are recorded (default: all; ``[-1]``: only the output layer).
    learning : Learning or None
        Plasticity of weights, biases and ``tau_m`` with an optimiser, e.g. ``Learning(Adam(lr=1e-4))``;
        switched on and off per :meth:`run` (``learn=``) without rebuilding.
    batch : int
        Number of copies of the network that run side by side on different inputs and share their
        weights, biases and ``tau_m`` (held once; gradients are batch means). Inputs then have shape
        ``(T, batch, n_in)`` and traces ``(samples, batch, n_l)``.
    projection : None, 'dense' or 'synapses'
        How the projections are computed: ``'dense'`` (the default), as products inside the generated code, the
        all-to-all ones as matrix products (:mod:`gle_brian.dense`; the weights held once, row-major, also for a
        batch), the sparse ones (``connect``) as compressed-row products (:mod:`gle_brian.sparse`; on numpy and
        cpp_standalone, Brian2 Synapses on cython and cuda_standalone); or ``'synapses'``, as Brian2 Synapses
        with summed variables (one synapse at a time; a cross-check).
    connect : list or None
        Per layer, the synapses of the projection into it: ``None`` (all-to-all, the default), a condition in
        ``i`` (presynaptic) and ``j`` (postsynaptic) such as ``'abs(i - j) < 3'``, or a dict of Brian2's
        ``Synapses.connect`` arguments such as ``dict(p=0.2)`` (random connections drawn with ``seed``).
        Such projections are computed as ``projection`` says (above); ``connectivity`` holds their
        ``(pre, post)`` index arrays (ordered by post, then pre), and ``W`` is zero where there is no synapse.
        Their weights are held per synapse (with the optimiser state), so memory and time scale with the
        synapses; drawn weights are those of the all-to-all projection at the synapses.
    signs : list or None
        Per layer, a sign constraint on the weights of the projection into it (Dale's law): ``None``, ``+1``
        (kept ``>= 0``, excitatory) or ``-1`` (``<= 0``, inhibitory), clipped after every optimiser step.
        Drawn initial weights take the sign; given ones must have it.
    precision : None, 'double' or 'single'
        Floating-point type of the state and of the generated code: 64 bit (the numbers of the reference step to
        round-off) or 32 bit (as the published PyTorch code; about 1e-6 relative deviation from the
        double-precision run after 1000 steps); ``None``: Brian2's ``prefs.core.default_float_dtype``.
    wiring : Wiring or None
        The populations' names and the projections between them (:class:`~gle_brian.graph.GLEGraph` gives
        them); ``None``: a chain through the layers.
    """

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
        constants = sorted({c for activation in self.activations for c in activation.constants})
        if constants:
            raise GLEConfigError(f'an activation uses the constants {constants} of a script\'s run namespace, which a '
                                 f'{type(self).__name__} does not see; write their values into phi and phi_prime, or '
                                 'put GLEGroups into your own Brian2 script.')
        self.time_constants = [layer.time_constants(float(self.dt)) for layer in self.layers]
        self.sizes = [self.n_in] + [layer.size for layer in self.layers]
        self.wiring = wiring or Wiring.chain(len(self.layers))
        self.group_names = list(self.wiring.names)
        self.outputs = list(self.wiring.outputs)
        self.n_out = sum(self.layers[l].size for l in self.outputs)     # target channels
        self.projection_specs = list(self.wiring.projections)
        self.shapes = [(self.layers[post].size, self.n_in if pre == INPUT else self.layers[pre].size)
                       for pre, post in self.projection_specs]           # (n_post, n_pre) of every projection
        self._warn_unconnected()
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
            'layers': [{'size': int(layer.size),
                        'activation': {key: getattr(activation, key) for key in ('name', 'phi', 'phi_prime')},
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

    @property
    def feedback_weights(self):
        """The fixed random feedback matrices (``feedback='random'``), shape ``(n_post, n_pre)`` per projection
        (those of symmetric projections are not used), or ``None`` when every projection is symmetric."""
        if self.random_feedback is None:
            return None
        matrices = []
        for k, values in enumerate(self.random_feedback):
            if self.connectivity[k] is not None:      # the values at the synapses (zero elsewhere)
                pre, post = self.connectivity[k]
                values, matrix = np.zeros(self.shapes[k]), values
                values[post, pre] = matrix
            matrices.append(values)
        return matrices

    # --- checks ----------------------------------------------------------------------------------

    @property
    def beta(self):
        """The output error strength of the runs with a target (a number >= 0; a new value counts from the next run)."""
        return self._beta

    @beta.setter
    def beta(self, value):
        self._beta = check_number(value, 'beta', '0.1')

    def _warn_unconnected(self):
        """Warn of populations that no projection reaches and of outputs that the input does not reach (their
        rates then never depend on it)."""
        reached, frontier = set(), [INPUT]
        while frontier:
            source = frontier.pop()
            for pre, post in self.projection_specs:
                if pre == source and post not in reached:
                    reached.add(post)
                    frontier.append(post)
        for l in range(len(self.layers)):
            if l not in {post for _, post in self.projection_specs}:
                logger.warn(f'{self.label(l)} receives no projection: its rates follow only its bias and I_ext.',
                            'unconnected')
            elif l in self.outputs and l not in reached:
                logger.warn(f'{self.label(l)} is an output that the input does not reach: no projection path leads '
                            'from the input to it.', 'unreachable')

    def check_run(self, x, target=None, duration=None, learn=None, steps_per_run=None):
        """The input and target of a run as arrays ``(steps, batch*channels)``, its ``beta`` and whether it learns,
        checked (the arguments of :meth:`GLENetwork.run <gle_brian.network.GLENetwork.run>`; ``steps_per_run``: the
        steps a compiled network takes, or ``None``)."""
        steps = None
        if duration is not None:
            steps = int(round(float(checks.check_dt(duration, 'duration') / self.dt)))
        elif isinstance(x, TimedArray):
            raise GLEInputError('x is a TimedArray: give duration=... (e.g. duration=100*ms) as well.')
        if steps is not None and not isinstance(x, TimedArray) and np.shape(x)[:1] != (steps,):
            raise GLEInputError(f'duration={duration} is {steps} steps of dt={self.dt}, but x has '
                                f'{np.shape(x)[:1] or "no"} '
                                'rows; give duration=len(x)*dt, or leave duration out for an array.')
        x = self.check_signal(x, 'x', self.n_in, steps)
        steps = len(x)
        if steps_per_run not in (None, steps):
            raise GLEInputError(
                f'x has {steps} steps, but this {self.device} network was compiled for {steps_per_run} '
                'steps per run; give inputs of that length (split longer ones), or build a new network.')
        if target is None:
            y, beta = np.zeros((steps, self.batch * self.n_out)), 0.0
        else:
            if self.loss is None:
                raise GLEInputError("target was given, but the network has no loss; build it with loss='mse' or 'ce'.")
            y, beta = self.check_signal(target, 'target', self.n_out, steps), self.beta
        if learn and self.learning is None:
            raise GLEConfigError('learn=True, but the network has no plasticity; build it with '
                                 'learning=Learning(Adam(lr=...)) or similar.')
        learn = target is not None if learn is None else bool(learn)
        return x, y, beta, learn

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
