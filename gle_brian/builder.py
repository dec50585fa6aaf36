"""The builder: a network record (:class:`~gle_brian.spec.NetworkSpec`) -> the public GLE objects.

:func:`build` makes one :class:`~gle_brian.groups.GLEGroup` per population, one
:class:`~gle_brian.projections.GLEProjection` per projection, one :class:`~gle_brian.targets.GLETarget` per output
(its target the run's TimedArray ``y_target``), an input group whose rates are the run's TimedArray ``x_input``,
the StateMonitors of the recording, and the Brian2 ``Network`` of them all; it returns them as one plain record
(:class:`Built`), which the fronts and runners read. Every object takes its slot of the step from
:data:`~gle_brian.schedule.SCHEDULE` itself. The TimedArrays are read at ``t - t_start``: ``t_start``, the start of
the run, is a shared constant of the groups that read them, set by the runner (the run's namespace holds the same
names in every run, so Brian2 reuses its generated code).

Example::

    >>> from brian2 import ms
    >>> from gle_brian import Layer
    >>> from gle_brian.spec import NetworkSpec
    >>> built = build(NetworkSpec(2, [Layer(3, 'tanh', tau_m=1*ms), Layer(1, tau_m=1*ms)], dt=0.1*ms, loss='mse'))
    >>> [group.name for group in built.populations], len(built.projections), len(built.targets)
    (['layer_0', 'layer_1'], 2, 1)
"""
import dataclasses

import numpy as np
from brian2 import Clock, Network, NeuronGroup, StateMonitor, prefs, second
from brian2.devices import get_device
from brian2.devices.device import RuntimeDevice

from . import preferences  # noqa: F401  (registers prefs.gle_brian)
from .errors import GLEConfigError
from .gates import INFERENCE_SWITCH
from .groups import GLEGroup
from .projections import GLEProjection
from .reference import INPUT
from .schedule import schedule
from .targets import GLETarget

__all__ = ['Built', 'build', 'sampling_clock', 'RunMonitor', 'monitor', 'check_recording', 'RUN_START']

RUN_START_TEXT = 'the start of the run: its input and targets are read at t - t_start'
#: the declaration of ``t_start`` in the groups that read the run's input or targets
RUN_START = f't_start : second (shared, constant)  # {RUN_START_TEXT}'


@dataclasses.dataclass
class Built:
    """What :func:`build` made: ``input`` (the rates of the input), ``populations``, ``projections``, ``targets``,
    ``monitors`` (per population ``{variable: StateMonitor}``), ``learned`` (``(group, parameter, population)`` of
    every learned parameter, its learning rate ``lr_<parameter>`` and switch ``plastic_<parameter>`` in ``group``)
    and ``network`` (the Brian2 Network)."""
    input: NeuronGroup
    populations: list
    projections: list
    targets: list
    monitors: list
    learned: list
    network: Network


def sampling_clock(clock, dt, name):
    """``clock`` or, for another interval, a clock named after the monitor ``name`` (fixed names: a network
    built again the same way generates the same code, so a standalone build reuses the compiled files)."""
    return clock if dt is None or dt == clock.dt else Clock(dt, name=f'{name}_clock')


class RunMonitor(StateMonitor):
    """A StateMonitor that knows where the last run's samples start, keeps what ``prefs.gle_brian.keep_recordings``
    says (on runtime targets; a standalone binary records each run afresh) and tells the memory a run of it will
    hold. The package records with these alone (:func:`monitor`)."""

    run_start = 0

    def before_run(self, run_namespace):
        if isinstance(get_device(), RuntimeDevice):
            if prefs.gle_brian.keep_recordings == 'last':
                self.resize(0)
            self.run_start = len(self.t_)
        super().before_run(run_namespace)

    def values(self, variable):
        """Samples of ``variable`` during the last run, shape ``(samples, recorded indices)``."""
        return getattr(self, variable)[:].T[self.run_start:]

    def times(self):
        """The times of the last run's samples."""
        return self.t[self.run_start:]

    def expected_bytes(self, duration):
        """The memory (bytes) its samples will hold at the end of a run of ``duration`` (seconds)."""
        samples = int(np.ceil(float(duration) / float(self.clock.dt) - 1e-9))
        if isinstance(get_device(), RuntimeDevice) and prefs.gle_brian.keep_recordings == 'all':
            samples += len(self.t_)
        width = sum(np.dtype(variable.dtype).itemsize for variable in self.recorded_variables.values())
        return samples * (8 + width * self.n_indices)


def check_recording(network, duration):
    """Refuse (:class:`~gle_brian.errors.GLEConfigError`) a run of ``duration`` (seconds) whose monitors
    (:class:`RunMonitor`) would hold more than ``prefs.gle_brian.max_recording_bytes``, before it starts."""
    monitors = [obj for obj in network.objects if isinstance(obj, RunMonitor)]
    total, limit = sum(m.expected_bytes(duration) for m in monitors), prefs.gle_brian.max_recording_bytes
    if total > limit:
        raise GLEConfigError(
            f'this run would record {total / 1e9:.3g} GB ({", ".join(sorted(m.name for m in monitors))}), more than '
            f'prefs.gle_brian.max_recording_bytes = {limit / 1e9:.3g} GB: record fewer variables or layers (record=, '
            'record_layers=), sample less often (record_dt=), run shorter, or raise the limit'
            + (", or keep the last run's samples only (prefs.gle_brian.keep_recordings = 'last')"
               if prefs.gle_brian.keep_recordings == 'all' else '') + '.')


def monitor(source, variables, record, dt, name):
    """A :class:`RunMonitor` of ``variables`` of ``source`` (``record``: True or indices) every ``dt`` (``None``: every
    step of its clock), at the end of the step (the state stored after it); ``name`` fixes its Brian2 name."""
    recorder = RunMonitor(source, variables, record=record, clock=sampling_clock(source.clock, dt, name), name=name)
    return schedule(recorder, 'record')


def _learning(spec, l, what):
    """The :class:`~gle_brian.optimisers.Learning` of population ``l``'s objects (its learning rate; ``what``:
    ``'b'`` biases, ``'t'`` time constants, ``'w'`` weights), or ``None``."""
    learning = spec.learning
    if learning is None:
        return None
    return dataclasses.replace(learning, lr=spec.learning_rates[l], weights=learning.weights and 'w' in what,
                               biases=learning.biases and 'b' in what, tau_m=learning.tau_m and 't' in what)


def _target_columns(spec, l):
    """Per neuron of output ``l`` (all batch copies), the column of its target in a step's row of targets: the
    outputs' targets side by side, in the order of ``outputs``, one block per batch copy."""
    n = spec.layers[l].size
    offset = sum(spec.layers[o].size for o in spec.outputs[:spec.outputs.index(l)])
    neuron = np.arange(spec.batch * n)
    return neuron // n * spec.n_out + offset + neuron % n


def _monitors(spec, l, group_list, projections):
    """``{variable: StateMonitor}`` for the ``record=`` variables of population ``l``, each from the first of its
    groups that has it (``'w'``: from the holder of the weights of the projection into it)."""
    sources = {}
    for name in spec.record:
        source = projections[spec.incoming(l)].weight_group if name == 'w' else \
            next((g for g in group_list if name in g.variables), None)
        if source is None:
            raise GLEConfigError(f"record=[..., {name!r}]: {spec.label(l)} has no {name!r} (v exists only with "
                                 'prospective_errors=True); drop it from record or change the Layer.')
        sources.setdefault(source, []).append(name)
    monitors = {}
    for source, names in sources.items():
        monitors.update(dict.fromkeys(names, monitor(source, names, True, spec.record_dt, f'record_{source.name}')))
    return monitors


def build(spec):
    """The Brian2 objects of the network ``spec`` (on Brian2's current device), as a :class:`Built`."""
    clock = Clock(spec.dt, name='gle_clock')
    source = NeuronGroup(spec.batch * spec.n_in, f'r : 1\n{RUN_START}\n{INFERENCE_SWITCH}', clock=clock, name='input',
                         dtype={'t_start': np.float64})      # a time: double in single precision too, as t
    schedule(source.run_regularly('r = x_input(t - t_start, i)', name='input_rates'), 'input')
    populations = [
        GLEGroup(layer.size, layer.activation, tau_m * second, tau_r * second, layer.gamma, spec.initial_biases[l],
                 layer.prospective_errors, spec.batch, _learning(spec, l, 'b' * layer.bias + 't'), spec.microcircuit,
                 clock=clock, name=spec.group_names[l])
        for l, (layer, (tau_m, tau_r)) in enumerate(zip(spec.layers, spec.time_constants))]
    projections = [
        GLEProjection(source if pre == INPUT else populations[pre], populations[post], spec.initial_weights[k],
                      spec.connectivity[k], spec.feedback_modes[k],
                      None if spec.random_feedback is None else spec.random_feedback[k], spec.signs[k],
                      _learning(spec, post, 'w') if spec.wiring.plastic[k] else None, spec.projection == 'synapses',
                      name=f'projection_{k}')
        for k, (pre, post) in enumerate(spec.projection_specs)]
    targets = []
    for l in spec.outputs if spec.loss is not None else []:
        column = 'i'                     # one output: neuron i's target is column i
        if len(spec.outputs) > 1:        # several: the outputs' targets side by side
            column = populations[l].add_variable('target_column', integer=True,
                                                 description='where its target is in a row of the targets')
            populations[l].target_column = _target_columns(spec, l)
        populations[l].add_variable('t_start', shared=True, unit=second, constant=True, dtype=np.float64,
                                    description=RUN_START_TEXT)
        targets.append(GLETarget(populations[l], f'y_target(t - t_start, {column})', spec.loss, spec.beta,
                                 name=f'{spec.group_names[l]}_output'))
    learned = [(group.parameters, param, l) for l, group in enumerate(populations) for param in group.learned]
    learned += [(p.weight_group, 'w', post) for p, (_, post) in zip(projections, spec.projection_specs)
                if p.learning is not None]
    for group, param, _ in learned:
        setattr(group, f'plastic_{param}', 0)      # off until a run turns it on
    monitors = [_monitors(spec, l, populations[l].groups(), projections) if l in spec.record_layers else {}
                for l in range(len(spec.layers))]
    distinct = list({id(m): m for layer in monitors for m in layer.values()}.values())
    network = Network(source, *populations, *projections, *targets, *distinct, name='network')
    return Built(source, populations, projections, targets, monitors, learned, network)
