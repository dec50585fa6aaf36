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
from brian2 import (Clock, Network, NeuronGroup, Quantity, StateMonitor, Synapses, TimedArray, linked_var, prefs,
                    second)

from . import devices, neurons, runners, synapses
from .errors import GLEConfigError, GLEInputError, GLENumericalError, check_number, check_units
from .dense import DenseProjection, check_serial
from .neurons import (NONFINITE_STEP, SOFTMAX_NORMALISER, Layer, dendrite_code, neuron_equations, output_error_code,
                      rate_code)
from .optimisers import Learning
from .reference import INPUT
from .synapses import FEEDBACK_MODES, projection_equations

__all__ = ['GLENetwork', 'SCHEDULE', 'LOSSES', 'PROJECTIONS', 'init_weights']

#: (slot, order) of every operation in one time step. Every order here matters: the reference's
#: "compute all layers from old values, then write" step is reproduced by this table alone.
SCHEDULE = {
    'input': ('start', 0),             # input rates x[n] from the TimedArray
    'softmax': ('start', 1),           # loss='ce': softmax normaliser sum_j exp(r_j^n - r_k^n) per batch copy,
                                       # summed from the old rates just before the output error reads it
    'output_error': ('start', 2),      # output apical input beta*(target[n] - r^n) (MSE) or
                                       # beta*(target[n] - softmax(r^n)) (CE), from the old rate
    'basal': ('before_groups', 0),     # every feed-forward sum W r_pre^n (old weights, old rates)
    'rate_link': ('before_groups', 0),  # microcircuit: r_prime and I_apical (stored) -> error neurons
    'error_dendrites': ('groups', -2),  # microcircuit: the error neurons' err from v, r_prime, I_apical
    'error_link': ('groups', -1),      # microcircuit: err -> the representation neurons' apical compartment
    'dendrites': ('groups', 0),        # per layer: err from v, r_prime, I_apical; u_breve from old u
    'soma': ('groups', 1),             # Euler update of u (and v)
    'apical': ('after_groups', 0),     # every feedback sum W^T err (new errors, old weights)
    'gradient': ('after_groups', 0),   # drives of the shared parameters summed over the batch copies; the
                                       # dense weight drive err^T r (new errors, old rates)
    'plasticity': ('after_groups', 1),  # optimiser steps on w (err_post, old r_pre), b and tau_m (this
                                        # step's err and du/dt): new values are used from the next step on
    'apical_sum': ('after_groups', 2),  # where several projections leave a population: their feedback summed
    'rate': ('end', 0),                # r = phi(u_breve), r_prime = phi'(u_breve); the NaN watch on u, r, err
    'record': ('end', 10),             # monitors see the state stored after the step
}

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
    return _draw_weights(shapes, [None] * len(shapes), seed)


def _draw_weights(shapes, connectivity, seed=None, block=2 ** 20):
    """``U(-1/sqrt(n_pre), 1/sqrt(n_pre))`` initial weights of projections of the ``(n_post, n_pre)`` ``shapes``,
    one after the other with one generator: a matrix for an all-to-all projection (``connectivity`` entry
    ``None``), the values at the synapses ``(pre, post)`` (ordered by post, then pre) for the others: the same
    numbers, drawn a block of rows (about ``block`` numbers) at a time, so that no ``n_post x n_pre`` matrix is
    held."""
    rng = np.random.default_rng(seed)
    drawn = []
    for (n_post, n_pre), synapses_ in zip(shapes, connectivity):
        if synapses_ is None:
            drawn.append(rng.uniform(-1, 1, (n_post, n_pre)) / np.sqrt(n_pre))
            continue
        pre, post = synapses_
        values, rows = np.empty(len(pre)), max(1, block // n_pre)
        for start in range(0, n_post, rows):
            drawn_rows = rng.uniform(-1, 1, (min(rows, n_post - start), n_pre))
            at = slice(*np.searchsorted(post, [start, start + rows]))
            values[at] = drawn_rows[post[at] - start, pre[at]] / np.sqrt(n_pre)
        drawn.append(values)
    return drawn


def _sampling_clock(clock, dt, name):
    """``clock`` or, for another interval, a clock named after the monitor ``name`` (fixed names: a network
    built again the same way generates the same code, so a standalone build reuses the compiled files)."""
    return clock if dt is None or dt == clock.dt else Clock(dt, name=f'{name}_clock')


def _schedule(obj, operation):
    obj.when, obj.order = SCHEDULE[operation]


def _basal_code(inputs):
    """Dendrite code that sums a population's basal inputs (expressions; ``[None]``: summed into it by Synapses)."""
    return '' if inputs == [None] or not inputs else f'I_basal = {" + ".join(inputs)}\n'


def _positions(k, n_post, n_pre):
    """Where ``W[post, pre]`` sits in an array ordered by the row-major indices ``k`` (inverse permutation)."""
    positions = np.empty(n_post * n_pre, dtype=int)
    positions[k] = np.arange(len(k))
    return positions.reshape(n_post, n_pre)


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
        Seed of the weight initialisation.
    record : sequence of str
        Variables recorded in every layer (any of ``RECORDABLE``), every ``record_dt``, e.g. ``['r', 'err']``.
    record_dt : Quantity or None
        Sampling interval of the recording, a whole multiple of ``dt`` (default: ``dt``).
    record_layers : sequence of int or None
        Layers whose variables are recorded (default: all; ``[-1]``: only the output layer).
    directory : str or None
        Project folder for standalone devices (default: a fresh temporary folder).
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
    precision : 'double' or 'single'
        Floating-point type of the state and of the generated code: 64 bit (the default; the numbers of the
        reference step to round-off) or 32 bit (as the published PyTorch code; about 1e-6 relative deviation
        from the double-precision run after 1000 steps).

    Standalone devices compile the network on the first :meth:`run`; later runs reuse the binary and
    must have the same number of steps.

    The Brian2 objects: ``input`` and ``neurons`` (one NeuronGroup per layer, ``batch`` copies of it);
    ``weight_groups``, per projection the object holding ``w`` (a group of ``n_l*n_{l-1}`` elements, or of one
    element per synapse of a sparse projection, or the Synapses themselves at batch 1), and ``weight_positions``,
    per projection an integer array ``(n_l, n_{l-1})`` of where ``W_l[post, pre]`` sits in ``weight_groups[l].w``
    (for a sparse projection, one entry per synapse, in the order of ``connectivity``); ``parameter_groups``;
    ``network``, the Brian2 Network. The state carries over from one :meth:`run` to the next on
    every device; :meth:`get_state` and :meth:`set_state` save and restore it (checkpoints).
    """

    def __init__(self, n_in, layers, dt, device='cpp_standalone', loss=None, beta=1.0, weights=None,
                 biases=None, feedback='symmetric', feedback_weights=None, seed=None, record=(),
                 record_dt=None, directory=None, learning=None, batch=1, record_layers=None, precision='double',
                 projection=None, connect=None, signs=None):
        self.device = devices.check_device(device)
        self.projection = self._check_projection(projection)
        # optimiser counters held once per parameter; per element on GPUs (every thread would write it)
        self.shared_counters = self.device != 'cuda_standalone'
        if precision not in PRECISIONS:
            raise GLEConfigError(f"precision={precision!r} is not known; use 'double' (64 bit, the default) or "
                                 "'single' (32 bit).")
        self.precision = precision
        self.dt = self._check_dt(dt)
        self.n_in = self._check_size(n_in, 'n_in')
        self.batch = self._check_size(batch, 'batch')
        if not isinstance(layers, (list, tuple)) or not layers or not all(isinstance(layer, Layer) for layer in layers):
            raise GLEConfigError(f'layers={layers!r} must be a non-empty list of Layer objects (a single layer in a '
                                 'list too), e.g. layers=[Layer(3, "tanh", tau_m=1*ms)].')
        self.layers = list(layers)
        self.activations = [layer.check() for layer in self.layers]
        self.time_constants = [layer.time_constants(float(self.dt)) for layer in self.layers]
        self.sizes = [self.n_in] + [layer.size for layer in self.layers]
        self.group_names = self._group_names()           # the Brian2 names of the layers' groups
        self.outputs = self._outputs()                   # the layers with an output error (with a loss)
        self.n_out = sum(self.layers[l].size for l in self.outputs)     # target channels
        self.projection_specs = self._projection_specs()
        self.shapes = [(self.layers[post].size, self.n_in if pre == INPUT else self.layers[pre].size)
                       for pre, post in self.projection_specs]           # (n_post, n_pre) of every projection
        if loss not in LOSSES:
            raise GLEConfigError(f'loss={loss!r} is not known; use one of {list(LOSSES)}.')
        self.loss = loss
        self.beta = check_number(beta, 'beta', '0.1')
        if feedback not in FEEDBACK_MODES:
            raise GLEConfigError(f'feedback={feedback!r} is not known; use one of {list(FEEDBACK_MODES)}.')
        self.feedback = feedback
        self.seed = seed
        self.connectivity = self._check_connect(connect)
        self.signs = self._check_signs(signs)
        drawn = _draw_weights(self.shapes, self.connectivity, seed)
        initial_weights = self._constrain(self._check_matrices(weights, 'weights', drawn),
                                          None if weights is None else [w is None for w in weights])
        self.initial_biases = self._check_biases(biases)
        self.feedback_modes = self._feedback_modes()
        self._feedback = None         # per projection a matrix, or its values at the synapses (see _draw_weights)
        if 'random' in self.feedback_modes:
            self._feedback = self._check_matrices(feedback_weights, 'feedback_weights',
                                                  _draw_weights(self.shapes, self.connectivity,
                                                                None if seed is None else seed + 1))
        if isinstance(record, str):
            raise GLEConfigError(f'record={record!r} is one string; give a list of names, e.g. record=[{record!r}].')
        unknown = sorted(set(record) - set(RECORDABLE))
        if unknown:
            raise GLEConfigError(f'record={list(record)!r}: {unknown} cannot be recorded; choose from {list(RECORDABLE)}.')
        self.record = tuple(record)
        self.record_layers = set(range(len(self.layers)) if record_layers is None
                                 else self._check_layers(record_layers, 'record_layers'))
        self.record_dt = self._check_sampling_interval(record_dt, 'record_dt')
        if learning is not None and not isinstance(learning, Learning):
            raise GLEConfigError(f'learning={learning!r}: give a Learning, e.g. learning=Learning(Adam(lr=1e-4)).')
        self.learning = learning
        if learning is not None:
            self.learning_rates = learning.learning_rates(len(self.layers))
            self.tau_m_min = learning.min_tau_m(self.dt) if learning.tau_m else None
            for l, (tau_m, _) in enumerate(self.time_constants):
                self._check_tau_m_clamp(tau_m, f'layers[{l}].tau_m')

        self.runner = runners.make_runner(self.device, directory)
        with self._float_type():
            self._build(initial_weights)
        self.runner.network = self.network

    # --- construction ----------------------------------------------------------------------------

    def _build(self, weights):
        clock = Clock(self.dt, name='gle_clock')
        self.input = self._input_group(clock)
        self.neurons, self.monitors = [], []
        self._parameter_groups = []   # see parameter_groups
        self.weight_groups, self.weight_positions = [], []    # see _project
        self.functions = {}           # the Functions of dense projections, by name (part of every run's namespace)
        self.learned = []             # (group, parameter, layer) of every learned parameter
        extra = []                    # projections, parameter groups and gradient synapses of batches
        incoming, outgoing = self._wiring()
        for l, layer in enumerate(self.layers):
            group, params = self._population(l, layer, clock, extra, self._sum_variables(l, incoming, outgoing))
            self.neurons.append(group)
            self._parameter_groups.append(params)

        holders, basal_inputs = [], [[] for _ in self.layers]
        for k, (pre, post) in enumerate(self.projection_specs):
            holder, basal = self._project(k, self.input if pre == INPUT else self.neurons[pre], self.neurons[post],
                                          weights[k], clock, extra, *self._sum_targets(k, incoming, outgoing))
            holders.append(holder)
            basal_inputs[post].append(basal)

        for l, (layer, group, params) in enumerate(zip(self.layers, self.neurons, self._parameter_groups)):
            learned = self._learned(layer)
            _schedule(group.run_regularly(_basal_code(basal_inputs[l]) + self._dendrite_code(layer, 'tau_m' in learned),
                                          name=f'{self.group_names[l]}_dendrites'), 'dendrites')
            if len(outgoing[l]) > 1:     # the feedback of several projections, summed for the next step
                _schedule(group.run_regularly('I_apical = ' + ' + '.join(f'I_apical_{k}' for k in outgoing[l]),
                                              name=f'{self.group_names[l]}_apical_sum'), 'apical_sum')
            self._schedule_neurons(group, params, l, learned)
            if l in self.outputs and self.loss == 'ce':
                n_post, B = layer.size, self.batch
                softmax = Synapses(group, group, SOFTMAX_NORMALISER, clock=clock, name=f'{self.group_names[l]}_softmax')
                softmax.connect(i=np.repeat(np.arange(B * n_post), n_post),
                                j=np.repeat(np.arange(B) * n_post, n_post * n_post)
                                + np.tile(np.arange(n_post), B * n_post))
                _schedule(softmax.summed_updaters['softmax_sum_post'], 'softmax')
                extra.append(softmax)
            self.monitors.append(self._layer_monitors(l, holders, clock) if l in self.record_layers else {})
        self.output = self.neurons[-1]
        self.network = Network(self.input, *self.neurons, *extra, *self._monitor_objects(), name='network')

    def _population(self, l, layer, clock, objects, shares):
        """Build the neurons of layer ``l``: its group (``batch`` copies) and the group holding its parameters
        (itself at batch 1; for a batch a group holding ``b`` and ``tau_m`` once, with the synapses summing their
        drives over the copies, added to ``objects``). ``shares``: ``(k, name)`` of the projection shares it holds
        (see :meth:`_sum_variables`). Returns ``(group, params)``."""
        B, learning = self.batch, self.learning
        n_post = layer.size
        copies = np.arange(B * n_post) % n_post           # neuron k of the batch is neuron k % n_post
        learned = self._learned(layer)
        equations = self._neuron_equations(layer)
        if l in self.outputs and self.loss is not None:
            equations += 'beta : 1 (shared)  # output error strength\n'
        if l in self.outputs and self.loss is not None and len(self.outputs) > 1:
            equations += 'target_column : integer (constant)  # where its target is in a row of the targets\n'
        if l in self.outputs and self.loss == 'ce':
            equations += 'softmax_sum : 1  # sum_j exp(r_j - r_k) over the outputs j of the same batch copy\n'
        equations += ''.join(f'{name} : 1  # one projection\'s share of {name[:-len(str(k)) - 1]}\n'
                             for k, name in shares)
        if learned and B == 1:
            equations += neurons.plasticity_equations(learning.optimiser, learned,
                                                      shared_counters=self.shared_counters)
        if 'tau_m' in learned and B > 1:
            equations += neurons.TAU_M_DRIVE
        group = NeuronGroup(B * n_post, equations, method='euler', clock=clock, name=self.group_names[l])
        params = group
        if B > 1:
            params = NeuronGroup(n_post, neurons.PARAMETERS + (neurons.plasticity_equations(
                learning.optimiser, learned, B, self.shared_counters) if learned else ''), clock=clock,
                name=f'{self.group_names[l]}_parameters')
            group.b = linked_var(params, 'b', index=copies)
            group.tau_m = linked_var(params, 'tau_m', index=copies)
            objects.append(params)
            if learned:
                sums = Synapses(group, params, neurons.batch_gradient_equations(learned), clock=clock,
                                name=f'{self.group_names[l]}_batch_sums')
                sums.connect(i=np.arange(B * n_post), j=copies)
                for updater in sums.summed_updaters.values():
                    _schedule(updater, 'gradient')
                objects.append(sums)
        tau_m, tau_r = self.time_constants[l]
        params.tau_m = tau_m * second
        params.b = self.initial_biases[l]
        group.tau_r = np.tile(tau_r, B) * second
        group.gamma = layer.gamma
        return group, params

    def _neuron_equations(self, layer):
        """The equations of a layer's neurons (a string; ``b`` and ``tau_m`` linked to a parameter group in a batch)."""
        return neuron_equations(layer.prospective_errors, shared_parameters=self.batch > 1)

    @staticmethod
    def _dendrite_code(layer, learn_tau_m):
        """The code a layer's neurons run before the Euler step (after their basal sums)."""
        return dendrite_code(layer.prospective_errors, learn_tau_m)

    def _layer_monitors(self, l, holders, clock):
        """``{variable: StateMonitor}`` for the ``record=`` variables of layer ``l``, each from the first of its
        groups that has it (``'w'``: from the holder of the weights of the projection into it)."""
        sources = {}
        for name in self.record:
            source = holders[self._incoming(l)] if name == 'w' else \
                next((g for g in self.layer_groups(l) if name in g.variables), None)
            if source is None:
                raise GLEConfigError(f"record=[..., {name!r}]: {self._layer_name(l)} has no {name!r} (v exists only with "
                                     'prospective_errors=True); drop it from record or change the Layer.')
            sources.setdefault(source, []).append(name)
        monitors = {}
        for source, names in sources.items():
            monitor = StateMonitor(source, names, record=True, name=f'record_{source.name}',
                                   clock=_sampling_clock(clock, self.record_dt, f'record_{source.name}'))
            _schedule(monitor, 'record')
            monitors.update(dict.fromkeys(names, monitor))
        return monitors

    def _wiring(self):
        """Per population, the indices of the projections into it and of those leaving it."""
        layers = range(len(self.layers))
        incoming = [[k for k, (_, post) in enumerate(self.projection_specs) if post == l] for l in layers]
        outgoing = [[k for k, (pre, _) in enumerate(self.projection_specs) if pre == l] for l in layers]
        return incoming, outgoing

    def _sum_targets(self, k, incoming, outgoing):
        """The variables projection ``k`` sums into: ``I_basal`` and ``I_apical``, or its own shares of them where
        several projections converge on its postsynaptic population, or leave its presynaptic one."""
        pre, post = self.projection_specs[k]
        return ('I_basal' if len(incoming[post]) == 1 else f'I_basal_{k}',
                'I_apical' if pre == INPUT or len(outgoing[pre]) == 1 else f'I_apical_{k}')

    def _sum_variables(self, l, incoming, outgoing):
        """``(k, name)`` of the shares that population ``l`` holds (see :meth:`_sum_targets`): those of Synapses
        into it (a dense projection's basal input is a function call) and those of every projection leaving it."""
        basal = [(k, f'I_basal_{k}') for k in incoming[l] if len(incoming[l]) > 1 and self._is_synapses(k)]
        apical = [(k, f'I_apical_{k}') for k in outgoing[l] if len(outgoing[l]) > 1]
        return basal + apical

    def _is_synapses(self, k):
        """Whether projection ``k`` is Brian2 Synapses (sparse, or ``projection='synapses'``), not dense products."""
        return self.projection == 'synapses' or self.connectivity[k] is not None

    def _project(self, k, pre, post, weights, clock, objects, basal_target='I_basal', apical_target='I_apical'):
        """Build projection ``k`` (``pre -> post`` groups, initial ``weights``): its weights, feedback and
        plasticity, added to ``objects``; its sums go into ``basal_target`` and ``apical_target``.

        Returns the object holding ``w`` and the projection's basal input as an expression for the post group's
        dendrites: the dense product's function call, the share ``I_basal_<k>`` its Synapses sum into, or
        ``None`` when its Synapses sum into ``I_basal`` itself. Appends to ``weight_groups`` and
        ``weight_positions``.
        """
        B, learning = self.batch, self.learning
        (n_post, n_pre), (source, target) = self.shapes[k], self.projection_specs[k]
        sends_errors = source != INPUT
        learn_w = learning is not None and learning.weights and self._plastic(k)
        row_major = np.arange(n_post * n_pre).reshape(n_post, n_pre)
        # the learning state of a weight group (with the drive g_w summed over the batch)
        group_learning = (synapses.plasticity_equations(learning.optimiser, True, self.shared_counters)
                          if learn_w else '')
        sparse = self.connectivity[k] is not None
        if not self._is_synapses(k):
            random = self.feedback_modes[k] == 'random' and sends_errors
            holder = NeuronGroup(n_post * n_pre, synapses.WEIGHTS + synapses.FEEDBACK_WEIGHTS * random + group_learning,
                                 clock=clock, name=f'projection_{k}_weights')
            holder.w = weights.ravel()
            if random:
                holder.w_feedback = self._feedback[k].ravel()
            dense = DenseProjection(f'projection_{k}', holder, pre, post, B, self.device,
                                    'w_feedback' if random else 'w')
            self.functions.update(dense.functions)
            if self.device == 'cuda_standalone':
                dense.cuda_setup()
            if sends_errors:
                _schedule(pre.run_regularly(dense.apical_code(apical_target), name=f'projection_{k}_apical'),
                          'apical')
            if learn_w:
                _schedule(holder.run_regularly(dense.gradient_code, name=f'projection_{k}_gradient'), 'gradient')
            basal, positions = dense.basal_input, row_major
            objects.append(holder)
        else:
            # i, j: the pre- and postsynaptic neurons; m: the index of each synapse's weight among those of one copy
            # (row-major in W for all-to-all projections; the order of the synapses for sparse ones)
            if sparse:
                n_weights = len(self.connectivity[k][0])
                i, j, _ = synapses.copies_of(*self.connectivity[k], n_pre, n_post, B)
                m = np.tile(np.arange(n_weights), B)
            else:
                n_weights = n_post * n_pre
                i, j, m = synapses.all_to_all(n_pre, n_post, copies=B)
            # a batch: the weights held once in a group, with the drive g_w summed over the copies
            shared = B > 1
            equations = projection_equations(self.feedback_modes[k], sends_errors=sends_errors, shared_weights=shared,
                                             basal=basal_target, apical=apical_target)
            if learn_w and not shared:
                equations += synapses.plasticity_equations(learning.optimiser, shared_counters=self.shared_counters)
            projection = Synapses(pre, post, equations, clock=clock, name=f'projection_{k}')
            projection.connect(i=i, j=j)
            objects.append(projection)
            holder = projection
            basal = None if basal_target == 'I_basal' else basal_target
            if shared:
                holder = NeuronGroup(n_weights, synapses.WEIGHTS + group_learning, clock=clock,
                                     name=f'projection_{k}_weights')
                projection.weight_index = m
                projection.w = linked_var(holder, 'w', index='weight_index')
                objects.append(holder)
                if learn_w:
                    sums = Synapses(pre, holder, synapses.BATCH_GRADIENT, clock=clock,
                                    name=f'projection_{k}_batch_sums')
                    sums.connect(i=i, j=m)
                    sums.err_index = j
                    sums.err_post_copy = linked_var(post, 'err', index='err_index')
                    _schedule(sums.summed_updaters['g_w_post'], 'gradient')
                    objects.append(sums)
            # where each weight of one copy sits in holder.w: W[post, pre] (all-to-all), or synapse s (sparse)
            values = weights.ravel()
            if sparse:
                positions = np.arange(len(values))
            else:
                positions = row_major if shared else _positions(m, n_post, n_pre)
            holder.w = values if shared else values[m]
            _schedule(projection.summed_updaters[f'{basal_target}_post'], 'basal')
            if sends_errors:
                _schedule(projection.summed_updaters[f'{apical_target}_pre'], 'apical')
                if self.feedback_modes[k] == 'random':
                    projection.w_feedback = self._feedback[k].ravel()[m]
        # per synapse, or the batch mean of the drive g_w summed into the weight group
        gradient = synapses.WEIGHT_GRADIENT if isinstance(holder, Synapses) else 'g_w' + f'/{B}' * (B > 1)
        if learn_w:
            _schedule(holder.run_regularly(synapses.plasticity_code(learning.optimiser, gradient, self.signs[k]),
                                           name=f'projection_{k}_plasticity'), 'plasticity')
            self._init_learning(holder, 'w', target)
        self.weight_groups.append(holder)
        self.weight_positions.append(positions)
        return holder, basal

    def _input_group(self, clock):
        """The input population; its rates are the input signal of the current run."""
        group = NeuronGroup(self.batch * self.n_in, 'r : 1', clock=clock, name='input')
        _schedule(group.run_regularly('r = x_input(t - t_start, i)', name='input_rates'), 'input')
        return group

    def _learned(self, layer):
        """The per-neuron parameters of ``layer`` that learn (``'b'``, ``'tau_m'``)."""
        learning = self.learning
        return [] if learning is None else ['b'] * (learning.biases and layer.bias) + ['tau_m'] * learning.tau_m

    def _schedule_neurons(self, group, params, l, learned):
        """Schedule layer ``l``'s Euler update and rate, the output error, and the plasticity of ``learned``.

        ``group`` holds the neurons, ``params`` their (possibly shared) biases and time constants.
        """
        _schedule(group.state_updater, 'soma')
        _schedule(group.run_regularly(rate_code(self.activations[l]), name=f'{self.group_names[l]}_rate'), 'rate')
        if l in self.outputs and self.loss is not None:
            group.beta = self.beta
            column = 'i'                 # one output: neuron i's target is column i
            if len(self.outputs) > 1:
                column = 'target_column'
                group.target_column = self._target_columns(l)
            code = output_error_code(self.loss, column, any(pre == l for pre, _ in self.projection_specs))
            _schedule(group.run_regularly(code, name=f'{self.group_names[l]}_output_error'), 'output_error')
        for param in learned:
            code = neurons.plasticity_code(self.learning.optimiser, param, float(self.learning.time_unit),
                                           self.tau_m_min, self.batch)
            _schedule(params.run_regularly(code, name=f'{self.group_names[l]}_{param}_plasticity'), 'plasticity')
            self._init_learning(params, param, l)

    def _init_learning(self, group, param, layer):
        """Set the learning rate of ``param`` in ``group``; plasticity stays off until a run turns it on."""
        setattr(group, f'plastic_{param}', 0)
        setattr(group, f'lr_{param}', self.learning_rates[layer])
        self.learned.append((group, param, layer))

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
            Run length when ``x`` is a TimedArray (sampled at every step of ``dt``).
        learn : bool or None
            Plasticity on (``True``) or off (``False``) during this run; ``None`` means on when a target is
            given and the network was built with ``learning``.

        Raises :class:`~gle_brian.errors.GLENumericalError` after the run when a layer's ``u``, ``r`` or
        ``err`` became NaN or inf (the error names the layer, the first bad step and the variables that
        are not finite). The network then holds that state: restore a saved one (:meth:`set_state`) or
        build a new network, and lower the learning rate, ``beta`` or the scale of the input.
        """
        steps = None
        if isinstance(x, TimedArray):
            if duration is None:
                raise GLEInputError('x is a TimedArray: give duration=... (e.g. duration=100*ms) as well.')
            steps = int(round(float(self._check_dt(duration, 'duration') / self.dt)))
        x = self._check_signal(x, 'x', self.n_in, steps)
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
            y, beta = self._check_signal(target, 'target', self.n_out, steps), self.beta
        if learn and self.learning is None:
            raise GLEConfigError('learn=True, but the network has no plasticity; build it with '
                                 'learning=Learning(Adam(lr=...)) or similar.')
        learn = target is not None if learn is None else bool(learn)
        # values that belong to this run, not to the carried state
        self._assign(*[(self.neurons[l], 'beta', beta) for l in self.outputs if self.loss is not None],
                     *[(group, f'plastic_{param}', float(learn)) for group, param, _ in self.learned],
                     *[(group, NONFINITE_STEP, 0) for group in self.neurons])
        with self._float_type():
            self.runner.run(x, y, self.functions, self.dt, has_target=self.loss is not None)
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
        firsts = {l: steps[steps > 0].min() - 1 for l, steps in
                  enumerate(self._value(group, NONFINITE_STEP) for group in self.neurons) if steps.any()}
        if not firsts:
            return
        layer = min(firsts, key=lambda l: (firsts[l], l))
        step, others = int(firsts[layer]), sorted(set(firsts) - {layer})
        holders = dict.fromkeys(self.layer_groups(layer) + [self.parameter_groups[layer]]
                                + [self.weight_groups[k] for k, (_, post) in enumerate(self.projection_specs)
                                   if post == layer])
        variables = list(dict.fromkeys(name for group, name in self._state_variables()
                                       if group in holders and not np.all(np.isfinite(self._value(group, name)))))
        time = step * self.dt
        raise GLENumericalError(
            f'{self._layer_name(layer)} became NaN or inf at step {step} of this run (t = {time} after its start)'
            + (f', later also {", ".join(map(self._layer_name, others))}' if others else '') + f'; not finite now: {", ".join(variables)}. '
            'The network keeps this state: restore a saved one (net.set_state(state), load_checkpoint) or build a '
            'new network, then lower the learning rate, beta or the scale of the input.',
            layer=layer, step=step, time=time, variables=variables)

    def _monitor_objects(self):
        return list({id(m): m for monitors in self.monitors for m in monitors.values()}.values())

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
        feedback = (None if self._feedback is None else hashlib.sha256(
            np.concatenate([w.ravel() for w in self._feedback]).tobytes()).hexdigest()[:16])
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
        indices = range(len(self.layers)) if layers is None else self._check_layers(layers, 'layers')
        self._assign(*[(group, name, Quantity(np.zeros(group.variables[name].size), group.variables[name].dim))
                       for l in indices for group in self.layer_groups(l)
                       for name in neurons.NEURON_STATE if name in group.variables])

    def layer_groups(self, l):
        """The Brian2 neuron groups of layer (population) ``l``: its neurons (and the microcircuit form's error neurons)."""
        return [self.neurons[l]]

    @property
    def started(self):
        """False while a standalone network has neither run nor been given a state (it is then at rest)."""
        return self.runner.started

    def rates(self, layer=-1):
        """The stored rates ``r`` of ``layer`` now (the input of the next step), shape ``(batch, n_l)``."""
        layer = self._check_layer(layer)
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
        for l in range(len(self.layers)) if layer is None else [self._check_layer(layer)]:
            self.learning_rates[l] = lr
            self._assign(*[(group, f'lr_{param}', lr) for group, param, owner in self.learned if owner == l])

    def set_tau_m(self, tau_m, layer):
        """Set the membrane time constants of ``layer`` (Quantity, one value or one per neuron)."""
        layer = self._check_layer(layer)
        checked, _ = Layer(self.layers[layer].size, tau_m=tau_m).time_constants(float(self.dt))
        self._check_tau_m_clamp(checked, 'tau_m')
        self._assign((self.parameter_groups[layer], 'tau_m', checked * second))

    # --- results ---------------------------------------------------------------------------------

    @property
    def parameter_groups(self):
        """Per layer, the group holding ``b`` and ``tau_m``: the layer, or for a batch a group holding them once."""
        return self._parameter_groups if self.batch > 1 else self.neurons

    @property
    def weights(self):
        """The current weight matrices ``W_l``, shape ``(n_l, n_{l-1})`` (copies; zero where a sparse projection
        has no synapse)."""
        self.runner.activate()
        return [self._matrix(k, np.asarray(holder.w[:])[positions])
                for k, (holder, positions) in enumerate(zip(self.weight_groups, self.weight_positions))]

    @property
    def feedback_weights(self):
        """The fixed random feedback matrices (``feedback='random'``), shape ``(n_post, n_pre)`` per projection
        (those of symmetric projections are not used), or ``None`` when every projection is symmetric."""
        return None if self._feedback is None else [self._matrix(k, m) for k, m in enumerate(self._feedback)]

    def _matrix(self, k, values):
        """The ``(n_post, n_pre)`` matrix of projection ``k`` from its values: a matrix already (all-to-all), or
        the values at its synapses (sparse; zero elsewhere)."""
        if self.connectivity[k] is None:
            return values
        pre, post = self.connectivity[k]
        matrix = np.zeros(self.shapes[k])
        matrix[post, pre] = values
        return matrix

    @property
    def biases(self):
        """The current biases ``b_l``, shape ``(n_l,)`` (copies)."""
        self.runner.activate()
        return [np.array(group.b[:]) for group in self.parameter_groups]

    @property
    def tau_m(self):
        """The current membrane time constants of each layer (Quantity arrays, copies)."""
        self.runner.activate()
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
        layer = self._check_layer(layer)
        if layer not in self.record_layers:
            raise GLEConfigError(f'layer {layer} was not recorded; build the network with record_layers=None (all) '
                                 f'or including {layer}.')
        self.runner.activate()
        monitor = self.monitors[layer][variable]
        values = getattr(monitor, variable)[:].T.copy()
        if variable == 'w':
            values = values[:, self.weight_positions[self._incoming(layer)].ravel()]
        elif self.batch > 1:
            values = values.reshape(len(values), self.batch, -1)
        return values if self.runner.record_start is None else values[self.runner.record_start[monitor.name]:]

    def trace_times(self, layer=0, variable=None):
        """Times of the samples returned by :meth:`trace` (simulation time; standalone runs start at 0)."""
        self.runner.activate()
        monitor = self.monitors[self._check_layer(layer)][variable or self.record[0]]
        times = monitor.t[:]
        return times if self.runner.record_start is None else times[self.runner.record_start[monitor.name]:]

    # --- checks ----------------------------------------------------------------------------------

    @staticmethod
    def _check_dt(dt, name='dt'):
        check_units(dt, second, name, '0.01*ms')
        if not np.isscalar(float(dt)) or not float(dt) > 0 or not np.isfinite(float(dt)):
            raise GLEConfigError(f'{name}={dt!r} must be a positive, finite time.')
        return Quantity(float(dt), dim=second.dim)

    def _check_sampling_interval(self, interval, name='dt'):
        """A recording interval: ``None`` (every step) or a whole multiple of ``dt``, as a Quantity.

        Brian2 monitors at other intervals would repeat samples (below ``dt``) or sample between steps.
        """
        if interval is None:
            return self.dt
        steps = float(self._check_dt(interval, name) / self.dt)
        if steps < 1 - 1e-9 or abs(steps - round(steps)) > 1e-9:
            raise GLEConfigError(f'{name}={interval} must be a whole multiple of the network step dt={self.dt}, '
                                 f'e.g. {name}={max(1, round(steps)) * self.dt}.')
        return round(steps) * self.dt

    def _check_layer(self, layer, name='layer'):
        """The index 0 .. L-1 of ``layer``, counted from the input side or, when negative, from the output."""
        n = len(self.layers)
        if not isinstance(layer, (int, np.integer)) or isinstance(layer, bool) or not -n <= layer < n:
            raise GLEConfigError(f'{name}={layer!r} is not a layer of this {n}-layer network; give layer indices '
                                 f'0..{n - 1}, or -1 for the output layer.')
        return int(layer) % n

    def _check_layers(self, layers, name):
        """A list of layer indices (see :meth:`_check_layer`)."""
        if isinstance(layers, (str, int, np.integer)) or not np.iterable(layers):
            raise GLEConfigError(f'{name}={layers!r} must be a list of layer indices, e.g. {name}=[-1].')
        return [self._check_layer(l, f'{name}[{k}]') for k, l in enumerate(layers)]

    def _check_tau_m_clamp(self, tau_m, name):
        """Learned time constants must start at or above their clamp ``tau_m_min`` (seconds)."""
        if self.learning is not None and self.learning.tau_m and tau_m.min() < self.tau_m_min * (1 - 1e-12):
            raise GLEConfigError(f'{name}={tau_m.min()} s is below the clamp of learned time constants, '
                                 f'tau_m_min={self.tau_m_min} s; raise {name} or lower Learning(tau_m_min=...).')

    def _check_projection(self, projection):
        if projection is None:
            projection = 'dense'
        if projection not in PROJECTIONS:
            raise GLEConfigError(f'projection={projection!r} is not known; use one of {list(PROJECTIONS)} '
                                 "(None: 'dense').")
        if projection == 'dense':
            check_serial(self.device)
        return projection

    @staticmethod
    def _check_size(n, name):
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise GLEConfigError(f'{name}={n!r} must be a positive integer.')
        return int(n)

    def _outputs(self):
        """The layers with an output error: the last one."""
        return [len(self.layers) - 1]

    def _target_columns(self, l):
        """Per neuron of output layer ``l`` (all batch copies), the column of its target in a step's row of
        targets: the outputs' targets side by side, in the order of ``outputs``, one block per batch copy."""
        n = self.layers[l].size
        offset = sum(self.layers[o].size for o in self.outputs[:self.outputs.index(l)])
        neuron = np.arange(self.batch * n)
        return neuron // n * self.n_out + offset + neuron % n

    def _group_names(self):
        """The Brian2 name of each layer's neuron group (``layer_<index>``), which names its other objects too."""
        return [f'layer_{l}' for l in range(len(self.layers))]

    def _projection_specs(self):
        """``(pre, post)`` of every projection, ``pre`` a layer's index or ``INPUT``: a chain through the layers."""
        return [(INPUT if l == 0 else l - 1, l) for l in range(len(self.layers))]

    def _feedback_modes(self):
        """Per projection, how errors go back through it: ``'symmetric'`` or ``'random'`` (``feedback=``)."""
        return [self.feedback] * len(self.projection_specs)

    def _incoming(self, layer):
        """The index of the one projection into ``layer``, whose weights are the layer's ``'w'``."""
        into = [k for k, (_, post) in enumerate(self.projection_specs) if post == layer]
        if len(into) != 1:
            raise GLEConfigError(f"'w' of layer {layer}: {len(into)} projections reach it; read net.weights (one matrix "
                                 'per projection) instead.')
        return into[0]

    def _plastic(self, k):
        """Whether the weights of projection ``k`` learn (with ``learning``; every projection of a layered network)."""
        return True

    def _layer_name(self, l):
        """Layer ``l`` in words, for messages."""
        return f'layer {l}'

    def _describe(self, k):
        """Projection ``k`` in words, for error messages."""
        pre, post = self.projection_specs[k]
        return f'the projection {"input" if pre == INPUT else f"layer {pre}"} -> layer {post}'

    def _check_matrices(self, matrices, name, drawn):
        """Per projection the initial values of ``name``: the given matrix (checked: its shape, real and finite;
        ``None``, or an entry ``None``: the ``drawn`` one), kept whole for an all-to-all projection and taken at
        the synapses (in their order) for the others (as :func:`_draw_weights`)."""
        if matrices is None:
            return drawn
        try:
            matrices = list(matrices)
        except TypeError:
            matrices = None
        if matrices is None or len(matrices) != len(self.shapes):
            raise GLEConfigError(f'{name} has {"no" if matrices is None else len(matrices)} matrices for '
                                 f'{len(self.shapes)} projections; give a list with one per projection (in a layered '
                                 'network, one per layer: the projection into it; None draws it).')
        checked = []
        for l, m in enumerate(matrices):
            if m is None:
                checked.append(drawn[l])
                continue
            m = self._real(m, f'{name}[{l}]', GLEConfigError)
            if m.shape != self.shapes[l]:
                raise GLEConfigError(f'{name}[{l}] has shape {m.shape}, expected {self.shapes[l]} (n_post, n_pre).')
            if self.connectivity[l] is not None:
                pre, post = self.connectivity[l]
                m = m[post, pre]
            if not np.all(np.isfinite(m)):
                raise GLEConfigError(f'{name}[{l}] contains NaN or inf; give finite values.')
            checked.append(m)
        return checked

    def _check_connect(self, connect):
        """Per projection ``None`` (all-to-all) or the ``(pre, post)`` index arrays of its synapses."""
        if connect is None:
            return [None] * len(self.shapes)
        if not isinstance(connect, (list, tuple)) or len(connect) != len(self.shapes):
            raise GLEConfigError(f'connect={connect!r}: give a list with one entry per projection ({len(self.shapes)}; '
                                 "per layer in a layered network): None (all-to-all), a condition such as "
                                 "'abs(i - j) < 3', or a dict of Brian2's Synapses.connect arguments such as dict(p=0.2).")
        resolved = []
        for l, entry in enumerate(connect):
            if entry is not None and not isinstance(entry, (str, dict)):
                raise GLEConfigError(f'connect[{l}]={entry!r}: give None, a condition string or a dict of Synapses.connect '
                                     'arguments, e.g. dict(p=0.2).')
            try:
                resolved.append(None if entry is None else synapses.connectivity(
                    self.shapes[l][1], self.shapes[l][0], entry, None if self.seed is None else self.seed + 2 + l))
            except Exception as error:      # Brian2's errors for conditions and arguments it cannot use
                reason = str(error).strip().splitlines()[0] if str(error).strip() else ''
                raise GLEConfigError(
                    f'connect[{l}]={entry!r} ({self._describe(l)}): Brian2 cannot make these synapses '
                    f'({type(error).__name__}: {reason}); use a condition in i (presynaptic) and j (postsynaptic), e.g. '
                    "'abs(i - j) < 3', or dict(p=0.2), or dict(i=..., j=...) index arrays.") from None
            if entry is not None and len(resolved[-1][0]) == 0:
                raise GLEConfigError(f'connect[{l}]={entry!r} ({self._describe(l)}) makes no synapses; loosen the '
                                     'condition or raise p, or leave the projection out.')
        return resolved

    def _check_signs(self, signs):
        if signs is None:
            return [None] * len(self.shapes)
        if not isinstance(signs, (list, tuple)) or len(signs) != len(self.shapes) \
                or any(sign not in (None, 1, -1) for sign in signs):
            raise GLEConfigError(f'signs={signs!r}: give one entry per projection ({len(self.shapes)}; per layer in a '
                                 'layered network), each None, +1 (its weights stay >= 0, excitatory) or -1 (<= 0, '
                                 'inhibitory).')
        return [None if sign is None else int(sign) for sign in signs]

    def _constrain(self, weights, drawn):
        """Initial weights with the sign of each constrained projection: drawn weights take it (``|W|`` or
        ``-|W|``), given ones must have it. ``drawn``: per projection whether its weights were drawn (``None``: all
        were)."""
        constrained = []
        for l, (w, sign) in enumerate(zip(weights, self.signs)):
            if sign is not None and (drawn is None or drawn[l]):
                w = sign * np.abs(w)
            elif sign is not None and np.any(sign * w < 0):
                raise GLEConfigError(f'weights[{l}] has {int(np.sum(sign * w < 0))} values of the wrong sign for '
                                     f'signs[{l}]={sign:+d}; give weights {">= 0" if sign > 0 else "<= 0"} there '
                                     f'(e.g. {"" if sign > 0 else "-"}abs(w)), or drop the constraint.')
            constrained.append(w)
        return constrained

    def _check_biases(self, biases):
        if biases is None:
            return [np.zeros(layer.size) for layer in self.layers]
        if len(biases) != len(self.layers):
            raise GLEConfigError(f'biases has {len(biases)} entries for {len(self.layers)} layers; give one per layer.')
        checked = []
        for l, (b, layer) in enumerate(zip(biases, self.layers)):
            b = np.zeros(layer.size) if b is None else self._real(b, f'biases[{l}]', GLEConfigError)
            if b.size not in (1, layer.size):
                raise GLEConfigError(f'biases[{l}] has {b.size} values for a layer of size {layer.size}; give one '
                                     f'value or {layer.size} (or None for zeros).')
            if not np.all(np.isfinite(b)):
                raise GLEConfigError(f'biases[{l}] contains NaN or inf; give finite values.')
            checked.append(np.broadcast_to(b.ravel(), (layer.size,)).copy())
        return checked

    @staticmethod
    def _real(values, name, error):
        """``values`` as a float array; complex numbers (whose imaginary part would be dropped) are refused."""
        array = np.asarray(values)
        if array.dtype.kind == 'c':
            raise error(f'{name} is complex; rates and parameters are real numbers: pass {name}.real or '
                        f'abs({name}) explicitly.')
        if array.dtype.kind not in 'biuf':
            raise error(f'{name} has values of type {array.dtype}; give numbers.')
        return array.astype(float)

    def _check_signal(self, signal, name, width, steps=None):
        """An input or target as a float array of shape (steps, batch*width), with clear errors.

        Accepts ``(steps, batch, width)``, and ``(steps, width)`` or (width 1) ``(steps,)`` when batch is 1.
        """
        B = self.batch
        if isinstance(signal, TimedArray):
            times = np.arange(steps) * self.dt
            signal = np.column_stack([signal(times, np.full(steps, k)) for k in range(B * width)])
            signal = signal.reshape(steps, B, width)
        if isinstance(signal, Quantity) and not signal.is_dimensionless:
            raise GLEInputError(f'{name} has units {signal.dim}; rates are dimensionless, pass plain numbers.')
        array = self._real(signal, name, GLEInputError)
        shape = array.shape
        if array.ndim == 1 and width == 1 and B == 1:
            array = array[:, None]
        if array.ndim == 2 and B == 1:
            array = array[:, None, :]
        if array.ndim != 3 or array.shape[1:] != (B, width):
            expected = f'(steps, {width})' if B == 1 else f'(steps, {B}, {width}) (steps, batch, channels)'
            raise GLEInputError(f'{name} has shape {shape}; expected {expected}, one row per time step.')
        if steps is not None and len(array) != steps:
            raise GLEInputError(f'{name} has {len(array)} steps, expected {steps}; give one row per step of x.')
        if len(array) == 0:
            raise GLEInputError(f'{name} has no time steps; give at least one row.')
        bad = ~np.isfinite(array)
        if bad.any():
            step, copy, channel = np.argwhere(bad)[0]
            where = f'step {step}, channel {channel}' + (f', batch element {copy}' if B > 1 else '')
            raise GLEInputError(f'{name} contains NaN or inf (first at {where}); '
                                'clean or interpolate the signal before running.')
        return np.ascontiguousarray(array.reshape(len(array), B * width))
