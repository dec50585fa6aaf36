"""Layered GLE networks: from layer specifications to Brian2 groups, synapses and one schedule.

This is the only module that sets Brian2 schedule slots and orders (``SCHEDULE``). The schedule
reproduces the reference's discrete step exactly (GLE_MODEL.md, section 1.3): every layer is computed
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
"""
import numpy as np
from brian2 import Clock, Network, NeuronGroup, Quantity, StateMonitor, Synapses, TimedArray, second
from brian2.units.fundamentalunits import DimensionMismatchError, fail_for_dimension_mismatch

from . import devices
from .errors import GLEConfigError, GLEInputError
from .neurons import OUTPUT_ERROR, Layer, dendrite_code, neuron_equations, rate_code
from .synapses import FEEDBACK_MODES, projection_equations

__all__ = ['GLENetwork', 'SCHEDULE', 'LOSSES', 'init_weights']

#: (slot, order) of every operation in one time step. Every order here matters: the reference's
#: "compute all layers from old values, then write" step is reproduced by this table alone.
SCHEDULE = {
    'input': ('start', 0),             # input rates x[n] from the TimedArray
    'output_error': ('start', 1),      # output apical input beta*(target[n] - r^n), from the old rate
    'basal': ('before_groups', 0),     # every feed-forward sum W r_pre^n (old weights, old rates)
    'dendrites': ('groups', 0),        # per layer: err from v, r_prime, I_apical; u_breve from old u
    'soma': ('groups', 1),             # Euler update of u (and v)
    'apical': ('after_groups', 0),     # every feedback sum W^T err (new errors, old weights)
    'plasticity': ('after_groups', 1),  # weight updates from err_post and the old r_pre
    'rate': ('end', 0),                # r = phi(u_breve), r_prime = phi'(u_breve)
    'record': ('end', 10),             # monitors see the state stored after the step
}

LOSSES = (None, 'mse')

#: variables every layer can record
RECORDABLE = ('u', 'v', 'u_breve', 'r', 'r_prime', 'err', 'I_basal', 'I_apical')


def init_weights(sizes, seed=None):
    """PyTorch's default ``nn.Linear`` init: ``W_l ~ U(-1/sqrt(n_{l-1}), 1/sqrt(n_{l-1}))``.

    ``sizes`` is ``[n_in, n_1, ..., n_L]``; returns a list of arrays of shape ``(n_l, n_{l-1})``.
    """
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, (n_post, n_pre)) / np.sqrt(n_pre) for n_pre, n_post in zip(sizes[:-1], sizes[1:])]


def _schedule(obj, operation):
    obj.when, obj.order = SCHEDULE[operation]


class GLENetwork:
    """A layered GLE network simulated with Brian2.

    Parameters
    ----------
    n_in : int
        Number of input channels.
    layers : list of Layer
        Hidden layers, then the output layer.
    dt : Quantity
        Time step of the Euler scheme (e.g. ``0.01*ms`` when 1 a.u. is 1 ms).
    device : str
        ``'numpy'``, ``'cython'``, ``'cpp_standalone'`` or ``'cuda_standalone'``.
    loss : None or 'mse'
        Output error; ``'mse'`` sends ``beta*(target - r)`` into the output layer's apical dendrite.
    beta : float
        Output error strength.
    weights, biases : list of arrays, optional
        ``W_l`` with shape ``(n_l, n_{l-1})`` and ``b_l`` with shape ``(n_l,)``; by default weights are drawn
        as in PyTorch's ``nn.Linear`` (see :func:`init_weights`) with ``seed`` and biases are zero.
    feedback : 'symmetric' or 'random'
        Errors flow down through ``W^T``, or through fixed random matrices (feedback alignment), given as
        ``feedback_weights`` or drawn like the weights with ``seed + 1``.
    seed : int or None
        Seed of the weight initialisation.
    record : sequence of str
        Variables recorded in every layer (any of ``RECORDABLE``), every ``record_dt``.
    record_dt : Quantity or None
        Sampling interval of the recording (default: ``dt``).
    directory : str or None
        Project folder for standalone devices (default: a fresh temporary folder).

    Standalone devices compile the network on the first :meth:`run`; later runs reuse the binary and
    must have the same number of steps. The state carries over from one :meth:`run` to the next on
    every device.
    """

    def __init__(self, n_in, layers, dt, device='cpp_standalone', loss=None, beta=1.0, weights=None,
                 biases=None, feedback='symmetric', feedback_weights=None, seed=None, record=(),
                 record_dt=None, directory=None):
        self.device = devices.check_device(device)
        self.dt = self._check_dt(dt)
        self.n_in = self._check_size(n_in, 'n_in')
        self.layers = list(layers)
        if not self.layers or not all(isinstance(layer, Layer) for layer in self.layers):
            raise GLEConfigError('layers must be a non-empty list of Layer objects, e.g. [Layer(3, "tanh", tau_m=1*ms)].')
        self.activations = [layer.check() for layer in self.layers]
        self.time_constants = [layer.time_constants(float(self.dt)) for layer in self.layers]
        self.sizes = [self.n_in] + [layer.size for layer in self.layers]
        if loss not in LOSSES:
            raise GLEConfigError(f'loss={loss!r} is not known; use one of {list(LOSSES)}.')
        self.loss = loss
        self.beta = float(beta)
        if feedback not in FEEDBACK_MODES:
            raise GLEConfigError(f'feedback={feedback!r} is not known; use one of {list(FEEDBACK_MODES)}.')
        self.feedback = feedback
        self.seed = seed
        initial_weights = self._check_matrices(
            init_weights(self.sizes, seed) if weights is None else weights, 'weights')
        self.initial_biases = self._check_biases(biases)
        self.feedback_weights = None
        if feedback == 'random':
            self.feedback_weights = self._check_matrices(
                init_weights(self.sizes, None if seed is None else seed + 1)
                if feedback_weights is None else feedback_weights, 'feedback_weights')
        unknown = sorted(set(record) - set(RECORDABLE))
        if unknown:
            raise GLEConfigError(f'record={list(record)!r}: {unknown} cannot be recorded; choose from {list(RECORDABLE)}.')
        self.record = tuple(record)
        self.record_dt = self.dt if record_dt is None else self._check_dt(record_dt, 'record_dt')

        devices.activate(self.device)
        self.project = (devices.StandaloneProject(self.device, directory)
                        if self.device in devices.STANDALONE_DEVICES else None)
        self._build(initial_weights)
        self.steps_per_run = None     # fixed by the first run on standalone devices
        self._carried = None          # state handed to the next standalone run
        self._record_start = None

    # --- construction ----------------------------------------------------------------------------

    def _build(self, weights):
        clock = Clock(self.dt, name='gle_clock')
        self.input = NeuronGroup(self.n_in, 'r : 1', clock=clock, name='input')
        _schedule(self.input.run_regularly('r = x_input(t - t_start, i)', name='input_rates'), 'input')
        self.neurons, self.synapses, self.monitors = [], [], []
        top = len(self.layers) - 1
        pre = self.input
        for l, layer in enumerate(self.layers):
            equations = neuron_equations(layer.prospective_errors)
            if l == top and self.loss is not None:
                equations += 'beta : 1 (shared)  # output error strength\n'
            group = NeuronGroup(layer.size, equations, method='euler', clock=clock, name=f'layer_{l}')
            tau_m, tau_r = self.time_constants[l]
            group.tau_m = tau_m * second
            group.tau_r = tau_r * second
            group.gamma = layer.gamma
            group.b = self.initial_biases[l]
            _schedule(group.run_regularly(dendrite_code(layer.prospective_errors), name=f'layer_{l}_dendrites'),
                      'dendrites')
            _schedule(group.state_updater, 'soma')
            _schedule(group.run_regularly(rate_code(self.activations[l]), name=f'layer_{l}_rate'), 'rate')
            if l == top and self.loss is not None:
                group.beta = self.beta
                _schedule(group.run_regularly(OUTPUT_ERROR, name='output_error'), 'output_error')

            projection = Synapses(pre, group, projection_equations(self.feedback, sends_errors=l > 0),
                                  clock=clock, name=f'projection_{l}')
            n_pre, n_post = self.sizes[l], self.sizes[l + 1]
            # synapse k = post*n_pre + pre, so that w is W (n_post x n_pre) in row-major order
            projection.connect(i=np.tile(np.arange(n_pre), n_post), j=np.repeat(np.arange(n_post), n_pre))
            projection.w = weights[l].ravel()
            _schedule(projection.summed_updaters['I_basal_post'], 'basal')
            if l > 0:
                _schedule(projection.summed_updaters['I_apical_pre'], 'apical')
                if self.feedback == 'random':
                    projection.w_feedback = self.feedback_weights[l].ravel()
            if self.record:
                monitor = StateMonitor(group, self.record, record=True, dt=self.record_dt, name=f'record_{l}')
                _schedule(monitor, 'record')
                self.monitors.append(monitor)
            self.neurons.append(group)
            self.synapses.append(projection)
            pre = group
        self.output = self.neurons[-1]
        self.network = Network(self.input, *self.neurons, *self.synapses, *self.monitors)

    # --- running ---------------------------------------------------------------------------------

    def run(self, x, target=None, duration=None):
        """Run over the input ``x`` and, with a loss, an optional ``target``; the state carries over.

        Parameters
        ----------
        x : array (T, n_in) or (T,) when n_in is 1, or a TimedArray (then give ``duration``)
            Input rates (dimensionless), one row per time step.
        target : array (T, n_out), TimedArray or None
            Target rates of the output layer. Without a target the output error is zero (inference).
        duration : Quantity or None
            Run length when ``x`` is a TimedArray (sampled at every step of ``dt``).
        """
        steps = None
        if isinstance(x, TimedArray):
            if duration is None:
                raise GLEInputError('x is a TimedArray: give duration=... (e.g. duration=100*ms) as well.')
            steps = int(round(float(self._check_dt(duration, 'duration') / self.dt)))
        x = self._check_signal(x, 'x', self.n_in, steps)
        steps = len(x)
        if target is None:
            y, beta = np.zeros((steps, self.layers[-1].size)), 0.0
        else:
            if self.loss is None:
                raise GLEInputError("target was given, but the network has no loss; build it with loss='mse'.")
            y, beta = self._check_signal(target, 'target', self.layers[-1].size, steps), self.beta
        if self.project is None:
            self._run_runtime(x, y, beta)
        else:
            self._run_standalone(x, y, beta)

    def _run_runtime(self, x, y, beta):
        devices.activate(self.device)
        self._record_start = [len(monitor.t) for monitor in self.monitors]
        if self.loss is not None:
            self.output.beta = beta
        namespace = {'x_input': TimedArray(x, dt=self.dt, name='x_input'),
                     'y_target': TimedArray(y, dt=self.dt, name='y_target'),
                     't_start': self.network.t}
        self.network.run(len(x) * self.dt, namespace=namespace)

    def _run_standalone(self, x, y, beta):
        self.project.check_active()
        if self.steps_per_run is None:
            self.steps_per_run = len(x)
            self._x_input = TimedArray(x, dt=self.dt, name='x_input')
            self._y_target = TimedArray(y, dt=self.dt, name='y_target')
            namespace = {'x_input': self._x_input, 'y_target': self._y_target, 't_start': 0 * second}
            self.network.run(len(x) * self.dt, namespace=namespace)
            self.project.build()
        elif len(x) != self.steps_per_run:
            raise GLEInputError(
                f'x has {len(x)} steps, but this {self.device} network was compiled for {self.steps_per_run} '
                'steps per run; give inputs of that length (split longer ones), or build a new network.')
        run_args = {self._x_input: x, self._y_target: y}
        if self.loss is not None:
            run_args[self.output.beta] = beta
        run_args.update(self._carried or {})
        self.project.run(run_args)
        self._carried = {view: view[:] for view in self._state_views()}

    def _state_views(self):
        """The variables that make up the network's state (carried from one standalone run to the next)."""
        views = []
        for group in [self.input, *self.neurons]:
            equations = group.equations
            for name in sorted(equations.diff_eq_names | equations.parameter_names):
                views.append(getattr(group, name))
        for projection in self.synapses:
            views.extend(getattr(projection, name) for name in sorted(projection.equations.parameter_names))
        return views

    # --- results ---------------------------------------------------------------------------------

    @property
    def weights(self):
        """The current weight matrices ``W_l``, shape ``(n_l, n_{l-1})``."""
        return [np.asarray(s.w[:]).reshape(n_post, n_pre)
                for s, n_pre, n_post in zip(self.synapses, self.sizes[:-1], self.sizes[1:])]

    def trace(self, variable, layer):
        """Recorded values of ``variable`` in ``layer`` during the last run, shape ``(samples, n_l)``.

        Values are taken at the end of each recorded step (after the step's update).
        """
        if variable not in self.record:
            raise GLEConfigError(f'{variable!r} was not recorded; build the network with record=[..., {variable!r}].')
        values = getattr(self.monitors[layer], variable)[:].T
        return values if self._record_start is None else values[self._record_start[layer]:]

    def trace_times(self, layer=0):
        """Times of the samples returned by :meth:`trace` (simulation time; standalone runs start at 0)."""
        times = self.monitors[layer].t[:]
        return times if self._record_start is None else times[self._record_start[layer]:]

    # --- checks ----------------------------------------------------------------------------------

    @staticmethod
    def _check_dt(dt, name='dt'):
        try:
            fail_for_dimension_mismatch(dt, second)
        except DimensionMismatchError:
            raise GLEConfigError(f'{name}={dt!r} must be a time, e.g. {name}=0.01*ms.') from None
        if not np.isscalar(float(dt)) or not float(dt) > 0 or not np.isfinite(float(dt)):
            raise GLEConfigError(f'{name}={dt!r} must be a positive, finite time.')
        return Quantity(float(dt), dim=second.dim)

    @staticmethod
    def _check_size(n, name):
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise GLEConfigError(f'{name}={n!r} must be a positive integer.')
        return int(n)

    def _check_matrices(self, matrices, name):
        matrices = [np.asarray(m, dtype=float) for m in matrices]
        if len(matrices) != len(self.layers):
            raise GLEConfigError(f'{name} has {len(matrices)} matrices for {len(self.layers)} layers; give one per layer.')
        for l, m in enumerate(matrices):
            shape = (self.sizes[l + 1], self.sizes[l])
            if m.shape != shape:
                raise GLEConfigError(f'{name}[{l}] has shape {m.shape}, expected {shape} (n_post, n_pre).')
            if not np.all(np.isfinite(m)):
                raise GLEConfigError(f'{name}[{l}] contains NaN or inf; give finite values.')
        return matrices

    def _check_biases(self, biases):
        if biases is None:
            return [np.zeros(layer.size) for layer in self.layers]
        if len(biases) != len(self.layers):
            raise GLEConfigError(f'biases has {len(biases)} entries for {len(self.layers)} layers; give one per layer.')
        checked = []
        for l, (b, layer) in enumerate(zip(biases, self.layers)):
            b = np.zeros(layer.size) if b is None else np.broadcast_to(np.asarray(b, dtype=float), (layer.size,)).copy()
            if not np.all(np.isfinite(b)):
                raise GLEConfigError(f'biases[{l}] contains NaN or inf; give finite values.')
            checked.append(b)
        return checked

    def _check_signal(self, signal, name, width, steps=None):
        """An input or target as a float array of shape (steps, width), with clear errors."""
        if isinstance(signal, TimedArray):
            times = np.arange(steps) * self.dt
            signal = np.column_stack([signal(times, np.full(steps, k)) for k in range(width)])
        if isinstance(signal, Quantity) and not signal.is_dimensionless:
            raise GLEInputError(f'{name} has units {signal.dim}; rates are dimensionless, pass plain numbers.')
        array = np.asarray(signal, dtype=float)
        if array.ndim == 1 and width == 1:
            array = array[:, None]
        if array.ndim != 2 or array.shape[1] != width:
            raise GLEInputError(f'{name} has shape {array.shape}; expected (steps, {width}), one row per time step.')
        if steps is not None and len(array) != steps:
            raise GLEInputError(f'{name} has {len(array)} steps, expected {steps}; give one row per step of x.')
        if len(array) == 0:
            raise GLEInputError(f'{name} has no time steps; give at least one row.')
        bad = ~np.isfinite(array)
        if bad.any():
            step, channel = np.argwhere(bad)[0]
            raise GLEInputError(f'{name} contains NaN or inf (first at step {step}, channel {channel}); '
                                'clean or interpolate the signal before running.')
        return array
