"""GLENetwork: a layered GLE network in one object, built from the public objects.

A :class:`GLENetwork` is a checked record of the network (:class:`~gle_brian.spec.NetworkSpec`), the Brian2
objects the builder makes from it (:func:`gle_brian.builder.build`: one :class:`~gle_brian.groups.GLEGroup` per
layer, one :class:`~gle_brian.projections.GLEProjection` per projection, a :class:`~gle_brian.targets.GLETarget` on
the output) and a runner (:mod:`gle_brian.runners`) that runs them on its device, takes inputs and targets as arrays,
carries the state from run to run, and leaves the user's Brian2 session as it was. :class:`~gle_brian.graph.GLEGraph`
and the microcircuit forms are the same front with another wiring or form. The objects take their slots of the
step from :data:`~gle_brian.schedule.SCHEDULE`, which reproduces the reference's discrete step exactly
(docs/model.rst, 'The discrete step'): every layer is computed from the values stored before the step, so each
layer adds one step of delay on the way up and one on the way down (an LE network with L layers outputs
``f(x[n - L])``).

Example (learning, with a batch of 4 copies that share their parameters)::

    >>> import numpy as np
    >>> from brian2 import ms
    >>> from gle_brian import Adam, GLENetwork, Layer, Learning
    >>> net = GLENetwork(1, [Layer(2, 'tanh', tau_m=1*ms, tau_r=0.1*ms), Layer(1, tau_m=1*ms)], dt=0.01*ms,
    ...                  loss='mse', beta=0.1, device='numpy', batch=4, learning=Learning(Adam(lr=1e-3)), record=['r'])
    >>> net.run(np.zeros((1000, 4, 1)), target=np.ones((1000, 4, 1)))          # learns
    >>> net.trace('r', layer=1).shape                                          # (steps, batch, n_out)
    (1000, 4, 1)
"""
import numpy as np
from brian2 import Quantity, second

from . import devices, gates, neurons, runners
from .builder import build
from .checks import check_number
from .errors import GLEConfigError, GLEInputError, GLENumericalError
from .neurons import NONFINITE_STEP, Layer
from .projections import init_weights
from .schedule import SCHEDULE
from .spec import LOSSES, PRECISIONS, PROJECTIONS, RECORDABLE, NetworkSpec, Wiring

__all__ = ['GLENetwork', 'Wiring', 'SCHEDULE', 'LOSSES', 'PROJECTIONS', 'RECORDABLE', 'PRECISIONS', 'init_weights']


class GLENetwork(NetworkSpec):
    """A layered GLE network simulated with Brian2, built from :class:`~gle_brian.groups.GLEGroup`,
    :class:`~gle_brian.projections.GLEProjection` and :class:`~gle_brian.targets.GLETarget` objects.

    Parameters
    ----------
    n_in, layers, dt, device, loss, beta, weights, biases, feedback, feedback_weights, seed, record, record_dt
        As for :class:`~gle_brian.spec.NetworkSpec`, which documents each (and ``learning``, ``batch``,
        ``record_layers``, ``precision``, ``projection``, ``connect``, ``signs``, ``wiring``).
    directory : str or None
        Project folder for standalone devices (default: the ``directory`` given to Brian2's ``set_device`` for this
        device, else a fresh temporary folder).

    Standalone devices compile the network on the first :meth:`run`; later runs reuse the binary, with any number
    of steps on ``'cpp_standalone'`` (:mod:`gle_brian.streaming`) and the first run's on ``'cuda_standalone'``.

    The Brian2 objects: ``input`` (a NeuronGroup of rates), ``populations`` (one :class:`GLEGroup` per layer,
    ``batch`` copies of it; also ``neurons``), ``projections`` (one :class:`GLEProjection` each), ``targets``
    (the :class:`GLETarget` of each output), ``weight_groups`` (per projection the object holding ``w``) and
    ``weight_positions`` (per projection where ``W[post, pre]`` sits in ``weight_groups[k].w``),
    ``parameter_groups``; ``network``, the Brian2 Network. The state carries over from one :meth:`run` to the
    next on every device; :meth:`get_state` and :meth:`set_state` save and restore it (checkpoints).
    """

    def __init__(self, n_in, layers, dt=None, device='cpp_standalone', loss=None, beta=1.0, weights=None,
                 biases=None, feedback='symmetric', feedback_weights=None, seed=None, record=(),
                 record_dt=None, directory=None, learning=None, batch=1, record_layers=None, precision=None,
                 projection=None, connect=None, signs=None, wiring=None):
        super().__init__(n_in, layers, dt, device, loss, beta, weights, biases, feedback, feedback_weights, seed,
                         record, record_dt, learning, batch, record_layers, precision, projection, connect, signs,
                         wiring)
        with devices.restoring():              # the user's device, options and target stay as they were
            # the pairs of numbers a projection's product multiplies per step, on average (cpp_standalone's threads)
            work = self.batch * sum(rows * columns if pairs is None else len(pairs[0])
                                    for (rows, columns), pairs in zip(self.shapes, self.connectivity)) \
                / max(1, len(self.shapes))
            self.runner = runners.make_runner(self.device, directory or devices.user_directory(self.device), work)
            with self._float_type():
                built = build(self)
            self.runner.network = built.network
            self.runner.gates = gates.gates(built.network, built.input)
        self.input, self.populations, self.projections = built.input, built.populations, built.projections
        self.targets, self.monitors, self.learned, self.network = (built.targets, built.monitors, built.learned,
                                                                   built.network)
        self.neurons, self.output = self.populations, self.populations[-1]     # (representation) neuron groups
        self.parameter_groups = [group.parameters for group in self.populations]   # holding b and tau_m
        self.weight_groups = [p.weight_group for p in self.projections]           # holding w
        #: the microcircuit form's error populations (``<name>_error``) and its one-to-one links
        self.error_neurons = [group.error_neurons for group in self.populations] if self.microcircuit else None
        self.links = [link for group in self.populations for link in group.links]

    @property
    def weight_positions(self):
        """Per projection where ``W[post, pre]`` sits in ``weight_groups[k].w`` (made when asked for)."""
        return [p.positions for p in self.projections]

    def layer_groups(self, l):
        """The Brian2 neuron groups of layer (population) ``l``: its neurons (and the microcircuit form's error
        neurons)."""
        return self.populations[l].groups()

    # --- running ---------------------------------------------------------------------------------

    def run(self, x, target=None, duration=None, learn=None, inference=False):
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
            given and the network was built with ``learning``. With learning off, the drives and optimiser steps
            are skipped (:mod:`gle_brian.gates`).
        inference : bool
            Evaluation only (no target, learning off): the errors start at rest, ``v``, ``err`` and ``I_apical``
            set to zero, as they are once the output error has been off long enough, so they stay zero and the
            error path (softmax, output error, feedback) is skipped (:mod:`gle_brian.gates`). The rates are
            those of a run with learning off, since no layer's soma feels its errors: refused where a layer has
            ``gamma != 0``.

        Raises :class:`~gle_brian.errors.GLENumericalError` after the run when a layer's ``u``, ``r`` or
        ``err`` became NaN or inf (the error names the layer, the first bad step and the variables that
        are not finite). The network then holds that state: restore a saved one (:meth:`set_state`) or
        build a new network, and lower the learning rate, ``beta`` or the scale of the input.
        """
        x, y, beta, learn = self.check_run(x, target, duration, learn, self.steps_per_run)
        if inference:
            self.runner.assign(self._errors_at_rest(target, learn))
        # values that belong to this run, not to the carried state
        self.runner.assign([*[(self.neurons[l], 'beta', beta) for l in self.outputs if self.loss is not None],
                            *[(group, f'plastic_{param}', float(learn)) for group, param, _ in self.learned],
                            *[(group, NONFINITE_STEP, 0) for group in self.neurons],
                            (self.input, gates.INFERENCE, float(inference))])
        with self._float_type():
            self.runner.run(x, y, self.dt, has_target=self.loss is not None)
        self._check_finite()

    @property
    def nudged_layers(self):
        """The layers whose somas feel their errors (``gamma != 0``), by label; an inference run needs none."""
        return [self.label(l) for l, layer in enumerate(self.layers) if np.any(np.asarray(layer.gamma) != 0)]

    def _errors_at_rest(self, target, learn):
        """The assignments that set every error variable to zero, for an inference run (checked)."""
        nudged = self.nudged_layers
        if target is not None or learn or nudged:
            raise GLEConfigError('inference=True runs without a target and with learning off, in a network whose '
                                 'somas do not feel their errors (gamma = 0); ' + (
                                     f'{", ".join(nudged)} has gamma != 0' if nudged else
                                     'drop the target and give learn=False') + ', or run with inference=False.')
        return [(group, name, 0) for l in range(len(self.layers)) for group in self.layer_groups(l)
                for name in group.variables if name in ('v', 'err') or name.startswith('I_apical')]

    def _float_type(self):
        """Brian2's default float type set to this network's precision while it builds its objects and generates
        code (runs); the user's own Brian2 objects keep theirs (:func:`gle_brian.devices.float_type`)."""
        return devices.float_type(PRECISIONS[self.precision])

    @property
    def project(self):
        """The :class:`~gle_brian.standalone.StandaloneProject` of a standalone network (``None`` on runtime
        targets)."""
        return self.runner.project

    @property
    def steps_per_run(self):
        """The steps of every run of a compiled ``cuda_standalone`` network (fixed by its first run), else ``None``:
        on the other targets every run may have its own length (:mod:`gle_brian.streaming`)."""
        return None if self.runner.any_length or not self.runner.compiled else self.runner.steps_per_run

    def run_edges(self, phases, chunk):
        """The steps at which this network's runs begin and end, to cover ``phases`` (step edges, first to last):
        the phases themselves where runs may have any length, runs of ``chunk`` steps on ``cuda_standalone`` (its
        binary keeps the first run's length; ``chunk`` must divide every phase).

        Example: ``net.run_edges([0, 500, 2000], 250)`` is ``[0, 500, 2000]``, or ``[0, 250, ..., 2000]`` on cuda.
        """
        phases = sorted(set(phases))
        if self.runner.any_length:
            return phases
        if any((end - phases[0]) % chunk for end in phases):
            raise GLEInputError(f'chunk={chunk} steps does not divide the phases {phases}: this {self.device} network '
                             'runs every run with the first run\'s length; choose phases in whole chunks.')
        return list(range(phases[0], phases[-1] + 1, chunk))

    def _check_finite(self):
        """Raise :class:`GLENumericalError` when the last run's NaN watch caught a layer (cheap: one read
        of ``nonfinite_step`` per layer; the variables of the layer are only scanned then)."""
        start = self.runner.start_step
        firsts = {l: steps[steps > 0].min() - 1 - start for l, steps in
                  enumerate(self.runner.value(group, NONFINITE_STEP) for group in self.neurons) if steps.any()}
        if not firsts:
            return
        layer = min(firsts, key=lambda l: (firsts[l], l))
        step, others = int(firsts[layer]), sorted(set(firsts) - {layer})
        holders = dict.fromkeys(self.layer_groups(layer) + [self.parameter_groups[layer]]
                                + [p.weight_group for p, (_, post) in zip(self.projections, self.projection_specs)
                                   if post == layer])
        variables = list(dict.fromkeys(name for group, name in runners.state_variables(self.network)
                                       if group in holders and not np.all(np.isfinite(self.runner.value(group, name)))))
        time = step * self.dt
        raise GLENumericalError(
            f'{self.label(layer)} became NaN or inf at step {step} of this run (t = {time} after its start)'
            + (f', later also {", ".join(map(self.label, others))}' if others else '')
            + f'; not finite now: {", ".join(variables)}. '
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
        return self.runner.get_state()

    def set_state(self, state):
        """Restore a state from :meth:`get_state`; the next :meth:`run` continues from it.

        Every value is checked before any is written, so a state that does not fit leaves the network
        unchanged. ``learning_rates`` become the rates stored in the state.
        """
        values = self.runner.set_state(state)
        for group, param, layer in self.learned:
            self.learning_rates[layer] = float(values[(group, f'lr_{param}')][0])

    def reset_state(self, layers=None):
        """Set the neurons of ``layers`` (indices; all when None) back to rest, as at the start.

        Potentials, rates and errors (:data:`gle_brian.neurons.NEURON_STATE`) become zero; weights,
        biases, time constants and optimiser state are kept. Takes effect at the next :meth:`run`, e.g.
        to start every sample from rest in a fixed memory: ``net.reset_state([0, 1, 2, 3])``.
        """
        indices = range(len(self.layers)) if layers is None else self.check_layers(layers, 'layers')
        self.runner.assign([(group, name, Quantity(np.zeros(group.variables[name].size), group.variables[name].dim))
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
        return self.runner.value(self.neurons[layer], 'r').reshape(self.batch, -1)

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
            self.runner.assign([(group, f'lr_{param}', lr) for group, param, owner in self.learned if owner == l])

    def set_tau_m(self, tau_m, layer):
        """Set the membrane time constants of ``layer`` (Quantity, one value or one per neuron)."""
        layer = self.check_layer(layer)
        checked, _ = Layer(self.layers[layer].size, tau_m=tau_m).time_constants(float(self.dt))
        self.check_tau_m_clamp(checked, 'tau_m')
        self.runner.assign([(self.parameter_groups[layer], 'tau_m', checked * second)])

    # --- results ---------------------------------------------------------------------------------

    @property
    def weights(self):
        """The current weight matrices ``W_l``, shape ``(n_l, n_{l-1})`` (copies; zero where a sparse projection
        has no synapse)."""
        with self.runner.active():
            return [p.W for p in self.projections]

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
        with self.runner.active():
            values = self.monitors[layer][variable].values(variable).copy()
        if variable == 'w':
            return values[:, self.projections[self.incoming(layer)].positions.ravel()]
        return values.reshape(len(values), self.batch, -1) if self.batch > 1 else values

    def trace_times(self, layer=0, variable=None):
        """Times of the samples returned by :meth:`trace` (simulation time; standalone runs start at 0)."""
        with self.runner.active():
            return self.monitors[self.check_layer(layer)][variable or self.record[0]].times()

