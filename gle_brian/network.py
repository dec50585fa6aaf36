"""GLE networks: from populations and projections to Brian2 groups, synapses and one schedule.

``GLENetwork`` is the layered form (its projections a chain through the layers); :class:`~gle_brian.graph.GLEGraph`
and :class:`~gle_brian.microcircuit.MicrocircuitNetwork` are the same builder with other hooks, on the same
schedule; :mod:`gle_brian.runners` runs what it builds. The Brian2 schedule slots and orders of every operation are
defined here alone (``SCHEDULE``, applied by ``_schedule``). The schedule
reproduces the reference's discrete step exactly (docs/model.rst, 'The discrete step'): every layer is computed
from the values stored before the step, so each layer adds one step of delay on the way up and one on
the way down (an LE network with L layers outputs ``f(x[n - L])``).

Example::

    >>> import numpy as np
    >>> from brian2 import ms
    >>> from gle_brian import GLENetwork, Layer
    >>> net = GLENetwork(n_in=1, layers=[Layer(2, 'tanh', tau_m=1*ms, tau_r=0.1*ms), Layer(1, tau_m=1*ms)],
    ...                  dt=0.01*ms, loss='mse', beta=0.1, device='numpy', seed=1, record=['u', 'r', 'err'])
    >>> t = np.arange(1000) * 0.01
    >>> net.run(np.sin(t)[:, None], target=np.cos(t)[:, None])
    >>> rates = net.trace('r', layer=1)           # output rates of that run, shape (1000, 1)

Learning (an optimiser step on W, b, tau_m every step while ``learn`` is on) and batches (copies that
share their parameters)::

    >>> from gle_brian import Adam, Learning
    >>> net = GLENetwork(1, [Layer(2, 'tanh', tau_m=1*ms, tau_r=0.1*ms), Layer(1, tau_m=1*ms)], dt=0.01*ms,
    ...                  loss='mse', beta=0.1, device='numpy', batch=4, learning=Learning(Adam(lr=1e-3), tau_m=True))
    >>> net.run(np.zeros((1000, 4, 1)), target=np.ones((1000, 4, 1)))          # learns
    >>> net.run(np.zeros((1000, 4, 1)), target=np.ones((1000, 4, 1)), learn=False)
"""
import contextlib
import dataclasses
import hashlib

import numpy as np
from brian2 import Clock, Network, NeuronGroup, Quantity, StateMonitor, TimedArray, defaultclock, prefs, second

from . import checks, devices, neurons, runners
from .checks import check_number, real
from .dense import check_serial
from .errors import GLEConfigError, GLEInputError, GLENumericalError
from .groups import GLEGroup
from .neurons import NONFINITE_STEP, Layer
from .optimisers import Learning
from .projections import GLEProjection, draw_weights
from .reference import INPUT
from .schedule import SCHEDULE, schedule
from .synapses import FEEDBACK_MODES
from .targets import GLETarget

__all__ = ['GLENetwork', 'SCHEDULE', 'LOSSES', 'PROJECTIONS', 'RECORDABLE', 'PRECISIONS', 'init_weights']

LOSSES = (None, 'mse', 'ce')

#: variables every layer can record (``'w'``: the weights of the layer's incoming projection)
RECORDABLE = neurons.STATE_VARIABLES + ('b', 'tau_m', 'w')

#: how all-to-all projections are computed (``GLENetwork(projection=...)``)
PROJECTIONS = ('dense', 'synapses')

#: floating-point types of ``GLENetwork(precision=...)``
PRECISIONS = {'double': np.float64, 'single': np.float32}


def init_weights(sizes, seed=None):
    """PyTorch's default ``nn.Linear`` init: ``W_l ~ U(-1/sqrt(n_{l-1}), 1/sqrt(n_{l-1}))``.

    ``sizes`` is ``[n_in, n_1, ..., n_L]``; returns a list of arrays of shape ``(n_l, n_{l-1})``.
    """
    shapes = list(zip(sizes[1:], sizes[:-1]))
    return draw_weights(shapes, [None] * len(shapes), seed)


def _sampling_clock(clock, dt, name):
    """``clock`` or, for another interval, a clock named after the monitor ``name`` (fixed names: a network
    built again the same way generates the same code, so a standalone build reuses the compiled files)."""
    return clock if dt is None or dt == clock.dt else Clock(dt, name=f'{name}_clock')


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


class GLENetwork:
    """A layered GLE network simulated with Brian2, built from :class:`~gle_brian.groups.GLEGroup`,
    :class:`~gle_brian.projections.GLEProjection` and :class:`~gle_brian.targets.GLETarget` objects.

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
    directory : str or None
        Project folder for standalone devices (default: the ``directory`` given to Brian2's ``set_device`` for this
        device, else a fresh temporary folder).
    learning : Learning or None
        Plasticity of weights, biases and ``tau_m`` with an optimiser, e.g. ``Learning(Adam(lr=1e-4))``;
        switched on and off per :meth:`run` (``learn=``) without rebuilding.
    batch : int
        Number of copies of the network that run side by side on different inputs and share their
        weights, biases and ``tau_m`` (held once; gradients are batch means). Inputs then have shape
        ``(T, batch, n_in)`` and traces ``(samples, batch, n_l)``.
    projection : None, 'dense' or 'synapses'
        How the all-to-all projections are computed: ``'dense'``, as matrix products inside the generated
        code (:mod:`gle_brian.dense`; the weights held once, row-major, also for a batch; the default), or
        ``'synapses'``, as Brian2 Synapses with summed variables (one synapse at a time; a cross-check).
    connect : list or None
        Per layer, the synapses of the projection into it: ``None`` (all-to-all, the default), a condition in
        ``i`` (presynaptic) and ``j`` (postsynaptic) such as ``'abs(i - j) < 3'``, or a dict of Brian2's
        ``Synapses.connect`` arguments such as ``dict(p=0.2)`` (random connections drawn with ``seed``).
        Such projections are Brian2 Synapses (whatever ``projection`` says); ``connectivity`` holds their
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

    Standalone devices compile the network on the first :meth:`run`; later runs reuse the binary and
    must have the same number of steps.

    The Brian2 objects: ``input`` (a NeuronGroup of rates), ``populations`` (one :class:`GLEGroup` per layer,
    ``batch`` copies of it; also ``neurons``), ``projections`` (one :class:`GLEProjection` each), ``targets``
    (the :class:`GLETarget` of each output), ``weight_groups`` (per projection the object holding ``w``) and
    ``weight_positions`` (per projection where ``W[post, pre]`` sits in ``weight_groups[k].w``),
    ``parameter_groups``; ``network``, the Brian2 Network. The state carries over from one :meth:`run` to the
    next on every device; :meth:`get_state` and :meth:`set_state` save and restore it (checkpoints).
    """

    #: build every population in microcircuit form (representation and error neurons)
    microcircuit = False

    def __init__(self, n_in, layers, dt=None, device='cpp_standalone', loss=None, beta=1.0, weights=None,
                 biases=None, feedback='symmetric', feedback_weights=None, seed=None, record=(),
                 record_dt=None, directory=None, learning=None, batch=1, record_layers=None, precision=None,
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
        initial_weights = checks.constrain(
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
            raise GLEConfigError(f'record={list(record)!r}: {unknown} cannot be recorded; choose from {list(RECORDABLE)}.')
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
                self._check_tau_m_clamp(tau_m, f'layers[{l}].tau_m')

        with devices.restoring():              # the user's device, options and target stay as they were
            self.runner = runners.make_runner(self.device, directory or devices.user_directory(self.device))
            with self._float_type():
                self._build(initial_weights)
            self.runner.network = self.network

    # --- construction ----------------------------------------------------------------------------

    def _build(self, weights):
        """The public objects of the network: populations, projections, output errors, monitors."""
        clock = Clock(self.dt, name='gle_clock')
        self.input = NeuronGroup(self.batch * self.n_in, 'r : 1', clock=clock, name='input')
        schedule(self.input.run_regularly('r = x_input(t - t_start, i)', name='input_rates'), 'input')
        self.populations = [
            GLEGroup(layer.size, layer.activation, tau_m * second, tau_r * second, layer.gamma, self.initial_biases[l],
                     layer.prospective_errors, self.batch, self._learning(l, 'b' * layer.bias + 't'),
                     self.microcircuit, clock=clock, name=self.group_names[l])
            for l, (layer, (tau_m, tau_r)) in enumerate(zip(self.layers, self.time_constants))]
        self.projections = []
        for k, (pre, post) in enumerate(self.projection_specs):
            self.projections.append(GLEProjection(
                self.input if pre == INPUT else self.populations[pre], self.populations[post], weights[k],
                self.connectivity[k], self.feedback_modes[k],
                None if self.random_feedback is None else self.random_feedback[k], self.signs[k],
                self._learning(post, 'w') if self.wiring.plastic[k] else None, self.projection == 'synapses',
                name=f'projection_{k}'))
        self.targets = []
        if self.loss is not None:
            for l in self.outputs:
                column = 'i'                 # one output: neuron i's target is column i
                if len(self.outputs) > 1:    # several: the outputs' targets side by side, per batch copy
                    column = self.populations[l].add_variable('target_column', integer=True,
                                                               description='where its target is in a row of the targets')
                    n, offset = self.layers[l].size, sum(self.layers[o].size for o in self.outputs[:self.outputs.index(l)])
                    neuron = np.arange(self.batch * n)
                    self.populations[l].target_column = neuron // n * self.n_out + offset + neuron % n
                self.targets.append(GLETarget(self.populations[l], f'y_target(t - t_start, {column})', self.loss,
                                              self.beta, name=f'{self.group_names[l]}_output'))
        self.learned = [(group.parameters, param, l) for l, group in enumerate(self.populations)
                        for param in group.learned]
        self.learned += [(p.weight_group, 'w', post) for p, (_, post) in zip(self.projections, self.projection_specs)
                         if p.learning is not None]
        for group, param, _ in self.learned:
            setattr(group, f'plastic_{param}', 0)      # off until a run turns it on
        self.monitors = [self._layer_monitors(l, clock) if l in self.record_layers else {}
                         for l in range(len(self.layers))]
        monitors = list({id(m): m for layer in self.monitors for m in layer.values()}.values())
        self.network = Network(self.input, *self.populations, *self.projections, *self.targets, *monitors,
                               name='network')

    def _learning(self, l, what):
        """The :class:`Learning` of layer ``l``'s objects (its learning rate; ``what``: ``'b'`` biases, ``'t'``
        time constants, ``'w'`` weights), or ``None``."""
        learning = self.learning
        if learning is None:
            return None
        return dataclasses.replace(learning, lr=self.learning_rates[l], weights=learning.weights and 'w' in what,
                                   biases=learning.biases and 'b' in what, tau_m=learning.tau_m and 't' in what)

    def _layer_monitors(self, l, clock):
        """``{variable: StateMonitor}`` for the ``record=`` variables of layer ``l``, each from the first of its
        groups that has it (``'w'``: from the holder of the weights of the projection into it)."""
        sources = {}
        for name in self.record:
            source = self.projections[self.incoming(l)].weight_group if name == 'w' else \
                next((g for g in self.layer_groups(l) if name in g.variables), None)
            if source is None:
                raise GLEConfigError(f"record=[..., {name!r}]: {self.label(l)} has no {name!r} (v exists only with "
                                     'prospective_errors=True); drop it from record or change the Layer.')
            sources.setdefault(source, []).append(name)
        monitors = {}
        for source, names in sources.items():
            monitor = StateMonitor(source, names, record=True, name=f'record_{source.name}',
                                   clock=_sampling_clock(clock, self.record_dt, f'record_{source.name}'))
            schedule(monitor, 'record')
            monitors.update(dict.fromkeys(names, monitor))
        return monitors

    @property
    def neurons(self):
        """The populations' (representation) neuron groups: ``populations``."""
        return self.populations

    @property
    def output(self):
        return self.populations[-1]

    @property
    def error_neurons(self):
        """The microcircuit form's error populations (``<name>_error``), or ``None``."""
        return [group.error_neurons for group in self.populations] if self.microcircuit else None

    @property
    def links(self):
        """The microcircuit form's one-to-one links between representation and error neurons."""
        return [link for group in self.populations for link in group.links]

    @property
    def weight_groups(self):
        return [p.weight_group for p in self.projections]

    @property
    def weight_positions(self):
        return [p.positions for p in self.projections]

    def layer_groups(self, l):
        """The Brian2 neuron groups of layer (population) ``l``: its neurons (and the microcircuit form's error neurons)."""
        return self.populations[l].groups()

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
            raise GLEConfigError(f"'w' of layer {layer}: {len(into)} projections reach it; read net.weights (one matrix "
                                 'per projection) instead.')
        return into[0]

    # --- running ---------------------------------------------------------------------------------

    def run(self, x, target=None, duration=None, learn=None):
        """Run over the input ``x`` and, with a loss, an optional ``target``; the state carries over.

        Parameters
        ----------
        x : array (T, n_in) or (T,) when n_in is 1, or a TimedArray (then give ``duration``)
            Input rates (dimensionless), one row per time step.
        target : array (T, n_out), TimedArray or None
            Target rates of the output layer (of a graph's outputs, side by side in the order of ``outputs``;
            ``n_out`` channels). Without a target the output error is zero (inference).
        duration : Quantity or None
            Run length when ``x`` is a TimedArray (sampled at every step of ``dt``); for an array it must be
            ``len(x)*dt``.
        learn : bool or None
            Plasticity on (``True``) or off (``False``) during this run; ``None`` means on when a target is
            given and the network was built with ``learning``.

        Raises :class:`~gle_brian.errors.GLENumericalError` after the run when a layer's ``u``, ``r`` or
        ``err`` became NaN or inf (the error names the layer, the first bad step and the variables that
        are not finite). The network then holds that state: restore a saved one (:meth:`set_state`) or
        build a new network, and lower the learning rate, ``beta`` or the scale of the input.
        """
        steps = None
        if duration is not None:
            steps = int(round(float(checks.check_dt(duration, 'duration') / self.dt)))
        elif isinstance(x, TimedArray):
            raise GLEInputError('x is a TimedArray: give duration=... (e.g. duration=100*ms) as well.')
        if steps is not None and not isinstance(x, TimedArray) and np.shape(x)[:1] != (steps,):
            raise GLEInputError(f'duration={duration} is {steps} steps of dt={self.dt}, but x has {np.shape(x)[:1] or "no"} '
                                'rows; give duration=len(x)*dt, or leave duration out for an array.')
        x = self.check_signal(x, 'x', self.n_in, steps)
        steps = len(x)
        if self.steps_per_run not in (None, steps):
            raise GLEInputError(
                f'x has {steps} steps, but this {self.device} network was compiled for {self.steps_per_run} '
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
        # values that belong to this run, not to the carried state
        self._assign(*[(self.neurons[l], 'beta', beta) for l in self.outputs if self.loss is not None],
                     *[(group, f'plastic_{param}', float(learn)) for group, param, _ in self.learned],
                     *[(group, NONFINITE_STEP, 0) for group in self.neurons])
        with self._float_type():
            self.runner.run(x, y, self.dt, has_target=self.loss is not None)
        self._check_finite()

    @contextlib.contextmanager
    def _float_type(self):
        """Brian2's default float type set to this network's precision while it builds its objects and
        generates code (runs), and restored afterwards (the user's own Brian2 objects keep theirs)."""
        previous = prefs.core.default_float_dtype
        prefs.core.default_float_dtype = PRECISIONS[self.precision]
        # Brian2 compares float32 states with 1e50 before each run, which numpy warns of as an overflow;
        # genuine overflows are reported by the NaN watch
        overflow = 'ignore' if self.precision == 'single' else None
        try:
            with np.errstate(over=overflow):
                yield
        finally:
            prefs.core.default_float_dtype = previous

    @property
    def project(self):
        """The :class:`~gle_brian.devices.StandaloneProject` of a standalone network (``None`` on runtime targets)."""
        return self.runner.project

    @property
    def steps_per_run(self):
        """The steps of every run of a compiled standalone network (fixed by its first run), else ``None``."""
        return self.runner.steps_per_run if self.runner.compiled else None

    def _assign(self, *assignments):
        """Set ``(group, variable, value)`` now (runtime, or before the standalone build) or in the next run."""
        self.runner.assign(assignments)

    def _state_variables(self):
        """``(group, name)`` of the network's state (see :func:`gle_brian.runners.state_variables`)."""
        return runners.state_variables(self.network)

    def _check_finite(self):
        """Raise :class:`GLENumericalError` when the last run's NaN watch caught a layer (cheap: one read
        of ``nonfinite_step`` per layer; the variables of the layer are only scanned then)."""
        start = self.runner.start_step
        firsts = {l: steps[steps > 0].min() - 1 - start for l, steps in
                  enumerate(self._value(group, NONFINITE_STEP) for group in self.neurons) if steps.any()}
        if not firsts:
            return
        layer = min(firsts, key=lambda l: (firsts[l], l))
        step, others = int(firsts[layer]), sorted(set(firsts) - {layer})
        holders = dict.fromkeys(self.layer_groups(layer) + [self.parameter_groups[layer]]
                                + [p.weight_group for p, (_, post) in zip(self.projections, self.projection_specs)
                                   if post == layer])
        variables = list(dict.fromkeys(name for group, name in self._state_variables()
                                       if group in holders and not np.all(np.isfinite(self._value(group, name)))))
        time = step * self.dt
        raise GLENumericalError(
            f'{self.label(layer)} became NaN or inf at step {step} of this run (t = {time} after its start)'
            + (f', later also {", ".join(map(self.label, others))}' if others else '') + f'; not finite now: {", ".join(variables)}. '
            'The network keeps this state: restore a saved one (net.set_state(state), load_checkpoint) or build a '
            'new network, then lower the learning rate, beta or the scale of the input.',
            layer=layer, step=step, time=time, variables=variables)

    # --- saving and restoring the state ------------------------------------------------------------

    def get_state(self):
        """Everything a later run depends on, as ``{'group.variable': array}`` (plain numbers, SI units).

        Neuron states, weights, biases, time constants, optimiser moments and step counts, learning
        rates: :meth:`set_state` on a network built the same way continues bit for bit. Example::

            >>> state = net.get_state()                  # doctest: +SKIP
            >>> # net2: a network built with the same constructor arguments
            >>> net2.set_state(state)                    # doctest: +SKIP
        """
        if not self.started:
            raise GLEInputError(f'get_state() on a {self.device} network before its first run: the state is only '
                                'known after a run (or a set_state); run it first.')
        return {f'{group.name}.{name}': self._value(group, name) for group, name in self._state_variables()}

    def _value(self, group, name):
        """The current values of ``group.name`` as a plain array (a copy)."""
        return self.runner.value(group, name)

    def set_state(self, state):
        """Restore a state from :meth:`get_state`; the next :meth:`run` continues from it.

        Every value is checked before any is written, so a state that does not fit leaves the network
        unchanged. ``learning_rates`` become the rates stored in the state.
        """
        expected = {f'{group.name}.{name}': (group, name) for group, name in self._state_variables()}
        if set(state) != set(expected):
            missing, unknown = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
            raise GLEInputError(f'state does not fit this network (missing {missing[:3]}, unknown {unknown[:3]}); '
                                'give the get_state() of a network built with the same arguments.')
        values = {}
        for key, value in state.items():
            group, name = expected[key]
            variable = group.variables[name]
            try:
                value = np.asarray(value, dtype=variable.dtype)
            except (TypeError, ValueError):
                value = None
            if value is None or value.shape != (variable.size,):
                raise GLEInputError(f'state[{key!r}] is not an array of shape ({variable.size},) and type '
                                    f'{np.dtype(variable.dtype).name}; give the get_state() of a network built with '
                                    'the same arguments.')
            values[(group, name)] = value
        self.runner.set_values(values)
        for group, param, layer in self.learned:
            self.learning_rates[layer] = float(values[(group, f'lr_{param}')][0])

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

    def reset_state(self, layers=None):
        """Set the neurons of ``layers`` (indices; all when None) back to rest, as at the start.

        Potentials, rates and errors (:data:`gle_brian.neurons.NEURON_STATE`) become zero; weights,
        biases, time constants and optimiser state are kept. Takes effect at the next :meth:`run`, e.g.
        to start every sample from rest in a fixed memory: ``net.reset_state([0, 1, 2, 3])``.
        """
        indices = range(len(self.layers)) if layers is None else self.check_layers(layers, 'layers')
        self._assign(*[(group, name, Quantity(np.zeros(group.variables[name].size), group.variables[name].dim))
                       for l in indices for group in self.layer_groups(l)
                       for name in neurons.NEURON_STATE if name in group.variables])

    @property
    def started(self):
        """False while a standalone network has neither run nor been given a state (it is then at rest)."""
        return self.runner.started

    def rates(self, layer=-1):
        """The stored rates ``r`` of ``layer`` now (the input of the next step), shape ``(batch, n_l)``."""
        layer = self.check_layer(layer)
        if not self.started:
            return np.zeros((self.batch, self.layers[layer].size))
        return self._value(self.neurons[layer], 'r').reshape(self.batch, -1)

    # --- changing parameters between runs ----------------------------------------------------------

    def set_learning_rate(self, lr, layer=None):
        """Set the learning rate (a number >= 0; 0 freezes) of one layer or of all, e.g. for a schedule.

        Takes effect at the next run. Example: ``net.set_learning_rate(1e-4, layer=-1)``.
        """
        if self.learning is None:
            raise GLEConfigError('set_learning_rate: the network has no plasticity; build it with '
                                 'learning=Learning(Adam(lr=...)) to set learning rates.')
        lr = check_number(lr, 'lr', '1e-3')
        for l in range(len(self.layers)) if layer is None else [self.check_layer(layer)]:
            self.learning_rates[l] = lr
            self._assign(*[(group, f'lr_{param}', lr) for group, param, owner in self.learned if owner == l])

    def set_tau_m(self, tau_m, layer):
        """Set the membrane time constants of ``layer`` (Quantity, one value or one per neuron)."""
        layer = self.check_layer(layer)
        checked, _ = Layer(self.layers[layer].size, tau_m=tau_m).time_constants(float(self.dt))
        self._check_tau_m_clamp(checked, 'tau_m')
        self._assign((self.parameter_groups[layer], 'tau_m', checked * second))

    # --- results ---------------------------------------------------------------------------------

    @property
    def parameter_groups(self):
        """Per layer, the group holding ``b`` and ``tau_m``: the layer, or for a batch a group holding them once."""
        return [group.parameters for group in self.populations]

    @property
    def weights(self):
        """The current weight matrices ``W_l``, shape ``(n_l, n_{l-1})`` (copies; zero where a sparse projection
        has no synapse)."""
        with self.runner.active():
            return [p.W for p in self.projections]

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

    @property
    def biases(self):
        """The current biases ``b_l``, shape ``(n_l,)`` (copies)."""
        with self.runner.active():
            return [np.array(group.b[:]) for group in self.parameter_groups]

    @property
    def tau_m(self):
        """The current membrane time constants of each layer (Quantity arrays, copies)."""
        with self.runner.active():
            return [group.tau_m[:].copy() for group in self.parameter_groups]

    def trace(self, variable, layer):
        """Recorded values of ``variable`` in ``layer`` during the last run, shape ``(samples, n_l)``.

        Values are taken at the end of each recorded step (after the step's update); with ``batch > 1``
        the shape is ``(samples, batch, n_l)``. ``'w'`` gives the weights ``W_l`` flattened row-major,
        shape ``(samples, n_l * n_{l-1})``; for a sparse projection those of its synapses, in the order of
        ``connectivity``.
        """
        if variable not in self.record:
            raise GLEConfigError(f'{variable!r} was not recorded; build the network with record=[..., {variable!r}].')
        layer = self.check_layer(layer)
        if layer not in self.record_layers:
            raise GLEConfigError(f'layer {layer} was not recorded; build the network with record_layers=None (all) '
                                 f'or including {layer}.')
        monitor = self.monitors[layer][variable]
        with self.runner.active():
            values = getattr(monitor, variable)[:].T.copy()
        if variable == 'w':
            values = values[:, self.weight_positions[self.incoming(layer)].ravel()]
        elif self.batch > 1:
            values = values.reshape(len(values), self.batch, -1)
        return values if self.runner.record_start is None else values[self.runner.record_start[monitor.name]:]

    def trace_times(self, layer=0, variable=None):
        """Times of the samples returned by :meth:`trace` (simulation time; standalone runs start at 0)."""
        monitor = self.monitors[self.check_layer(layer)][variable or self.record[0]]
        with self.runner.active():
            times = monitor.t[:]
        return times if self.runner.record_start is None else times[self.runner.record_start[monitor.name]:]

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

    def _check_tau_m_clamp(self, tau_m, name):
        """Learned time constants must start at or above their clamp ``tau_m_min`` (seconds)."""
        if self.learning is not None and self.learning.tau_m and tau_m.min() < self.tau_m_min * (1 - 1e-12):
            raise GLEConfigError(f'{name}={tau_m.min()} s is below the clamp of learned time constants, '
                                 f'tau_m_min={self.tau_m_min} s; raise {name} or lower Learning(tau_m_min=...).')
