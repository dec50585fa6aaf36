"""Running a built GLE network: one interface for runtime (numpy, cython) and standalone (C++, CUDA) targets.

The builder (:mod:`gle_brian.network`) makes the Brian2 objects; a runner runs them and reads and writes their
state, whatever the target:

* :class:`RuntimeRunner` runs the Brian2 ``Network`` in Python; values are read and written directly;
* :class:`StandaloneRunner` generates and compiles the project on the first run (a
  :class:`~gle_brian.standalone.StandaloneProject`) and reruns the binary with the carried state as ``run_args`` and
  the new input and targets (``cpp_standalone``: in files it streams, any number of steps,
  :mod:`gle_brian.streaming`; ``cuda_standalone``: as ``run_args``, the first run's number of steps); values
  written between runs are held until the next run, values read come from the state the last run left.

Both take the same calls: ``run(x, y, dt, has_target)``, ``assign(assignments)``, ``value(group, name)``,
``set_values(values)``, ``activate()``, and tell ``compiled`` (the project is built), ``any_length`` (runs may
have any number of steps), ``started`` (the state is known) and ``start_step`` (the clock's step at the start of
the last run). Example::

    >>> runner = make_runner('numpy')
    >>> runner.compiled, runner.any_length, runner.started
    (False, True, True)
"""
import contextlib
import functools
import os

import numpy as np
from brian2 import Quantity, StateMonitor, TimedArray
from brian2.devices import get_device
from brian2.core.variables import DynamicArrayVariable
from brian2.equations.equations import DIFFERENTIAL_EQUATION, PARAMETER

from . import devices, gates, openmp, standalone, streaming
from .builder import check_recording
from .devices import all_objects
from .errors import GLEConfigError, GLEInputError
from .neurons import NONFINITE_STEP

__all__ = ['make_runner', 'Runner', 'RuntimeRunner', 'StandaloneRunner', 'state_variables']


def make_runner(device, directory=None, work=0):
    """The runner of ``device`` (a checked target name); standalone projects go into ``directory``; ``work``: the
    pairs of numbers a projection's product multiplies per step, on average (cpp_standalone chooses its threads by
    it: :func:`gle_brian.openmp.openmp_threads`)."""
    devices.activate(device)
    if device in devices.STANDALONE_DEVICES:
        return StandaloneRunner(device, directory, work)
    return RuntimeRunner(device)


def state_variables(network):
    """``(group, name)`` of a Brian2 network's state: what a later run depends on, in a fixed order.

    Every differential equation and parameter of its groups, except linked variables (held by another group),
    constants (fixed when the network is built, e.g. feedback weights) and the NaN watch ``nonfinite_step``
    (set to 0 by every run).
    """
    groups = [obj for obj in all_objects(network) if hasattr(obj, 'equations')]
    return [(group, eq.varname) for group in sorted(groups, key=lambda g: g.name)
            for eq in group.equations.ordered
            if eq.type in (DIFFERENTIAL_EQUATION, PARAMETER)
            and 'linked' not in eq.flags and 'constant' not in eq.flags and eq.varname != NONFINITE_STEP]


def _restoring(method):
    """``method`` runs on this runner's device; afterwards the user's device is active again."""
    @functools.wraps(method)
    def wrapped(self, *args, **kwargs):
        with self.active():
            return method(self, *args, **kwargs)
    return wrapped


class Runner:
    """What both runners share: the user's session is left as it was."""

    #: the objects a run may skip (:func:`gle_brian.gates.gates`), set by the network's front
    gates = ()

    def activate(self):
        """Make this runner's target Brian2's current one (a network on another target may have run since)."""
        raise NotImplementedError

    @contextlib.contextmanager
    def active(self):
        """This runner's target inside the block, the user's device afterwards."""
        with devices.restoring():
            self.activate()
            yield

    def get_state(self):
        """The state of the network, ``{'group.variable': plain array}`` (see :func:`state_variables`)."""
        return {f'{group.name}.{name}': self.value(group, name) for group, name in state_variables(self.network)}

    def set_state(self, state):
        """Check ``state`` (from :meth:`get_state`) against the network, then write it (at once, or for the next
        standalone run); returns the values written, ``{(group, name): plain array}``."""
        expected = {f'{group.name}.{name}': (group, name) for group, name in state_variables(self.network)}
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
        self.set_values(values)
        return values


def _plain(group, name, value):
    """``value`` of ``group.name`` as a plain array of the variable's size and type (a copy)."""
    variable = group.variables[name]
    return np.broadcast_to(np.asarray(value, dtype=variable.dtype), (variable.size,)).copy()


class RuntimeRunner(Runner):
    """Runs a network in Python (``'numpy'``, ``'cython'``); the state lives in the Brian2 objects."""

    project = None
    compiled = False     # nothing is compiled,
    any_length = True    # and every run may have its own length
    started = True       # the objects hold the state from the start

    def __init__(self, device):
        self.device = device
        self.network = None          # the Brian2 Network (set by the builder)
        self.start_step = 0          # the clock's time step at the start of the last run
        self._inputs = {}            # the TimedArrays of the last run, by name

    def activate(self):
        devices.activate(self.device)

    @_restoring
    def assign(self, assignments):
        """Write ``(group, name, value)`` now."""
        for group, name, value in assignments:
            setattr(group, name, value)

    @_restoring
    def run(self, x, y, dt, has_target):
        """Run ``len(x)`` steps; ``x`` and ``y`` (steps, channels) become the values of the TimedArrays ``x_input``
        and ``y_target``, read at ``t - t_start`` (``t_start`` set to the start of the run in every group that
        has it). Runs of one length reuse the same TimedArrays (their values replaced), so Brian2 reuses the code
        it generated."""
        check_recording(self.network, len(x) * float(dt))
        self.start_step = int(round(float(self.network.t / dt)))
        for group in all_objects(self.network):
            if 't_start' in getattr(group, 'variables', {}):
                group.t_start = self.network.t
        gates.switch(self.gates, lambda group, name: group.variables[name].get_value())
        self.network.run(len(x) * dt, namespace={'x_input': self._timed_array('x_input', x, dt),
                                                 'y_target': self._timed_array('y_target', y, dt)})

    def _timed_array(self, name, values, dt):
        """The TimedArray ``name`` holding ``values``: the one of the last run with its values replaced when it has
        the same shape and ``dt``, a new one otherwise."""
        timed = self._inputs.get(name)
        if timed is None or timed.values.shape != np.shape(values) or timed.dt != float(dt):
            timed = self._inputs[name] = TimedArray(np.array(values, dtype=np.float64), dt=dt, name=name)
        else:
            timed.values[...] = values
        return timed

    @_restoring
    def value(self, group, name):
        """The current values of ``group.name`` (a plain array, a copy)."""
        return _plain(group, name, group.variables[name].get_value())

    @_restoring
    def set_values(self, values):
        """Write ``{(group, name): plain array}`` now."""
        for (group, name), value in values.items():
            group.variables[name].set_value(value)


class StandaloneRunner(Runner):
    """Runs a compiled standalone project (``'cpp_standalone'``, ``'cuda_standalone'``), built on the first run.

    Later runs rerun the binary: with any number of steps on ``cpp_standalone`` (the input streamed in parts of the
    first run's length, :mod:`gle_brian.streaming`), with the first run's on ``cuda_standalone``. The state is
    carried from one run to the next as ``run_args``; values assigned between runs are part of the next run's.
    """

    def __init__(self, device, directory=None, work=0):
        self.device = device
        self.project = standalone.StandaloneProject(device, directory)
        # the threads of the C++ loops (openmp.openmp_threads), fixed when the project is generated
        self.threads = openmp.openmp_threads(work) if device == 'cpp_standalone' else 1
        self.steps_per_run = None    # fixed by the first run (cpp_standalone: the steps of a part of a longer run)
        #: whether the binary runs any number of steps (cpp_standalone: :mod:`gle_brian.streaming`); else every run
        #: has the first run's length
        self.any_length = device == 'cpp_standalone'
        # the values handed to the next run, {(group, name): values}: those set since the last run; the rest of the
        # state is read from the last run's results when the next run starts (not at all when set_state replaces it,
        # as before every test run of evaluate)
        self.carried = {}
        self._ran = False            # whether a run has left its state in the results
        self.start_step = 0          # every run of the binary starts at t = 0
        self._network = None
        self._built = None           # (device queue length, objects) when the project was built

    @property
    def network(self):
        return self._network

    @network.setter
    def network(self, network):
        self._network = self.project.network = network

    @property
    def compiled(self):
        """Whether the first run has built the project (and fixed the steps it holds)."""
        return self.steps_per_run is not None

    @property
    def started(self):
        """False while the network has neither run nor been given a state (it is then at rest)."""
        return self.compiled or bool(self.carried)

    def activate(self):
        self.project.activate()

    @_restoring
    def assign(self, assignments):
        """Write ``(group, name, value)`` now before the build; afterwards as part of the next run."""
        for group, name, value in assignments:
            if self.compiled:
                self.carried[(group, name)] = value
            else:
                setattr(group, name, value)
                self.carried.pop((group, name), None)     # a value from set_values before the build

    @_restoring
    def run(self, x, y, dt, has_target):
        """Build on the first call (its input fixes the steps the binary holds), then run the binary with ``x``, ``y``
        (``y`` only ``has_target``: without a loss the target is not part of the project) and the carried state."""
        check_recording(self.network, len(x) * float(dt))
        if not self.compiled:
            self._build(x, y, dt, has_target)
        self._check_unchanged()
        if self._ran:            # the state the last run left, where nothing was set since
            for key in state_variables(self.network):
                if key not in self.carried:
                    self.carried[key] = self._left(*key)
        run_args = {getattr(group, name): value for (group, name), value in self.carried.items()}
        streams = {self._x_input: x, **({self._y_target: y} if has_target else {})}
        if self.any_length:
            files = {}
            for timed, variable in self._streams:
                files[variable] = os.path.join(self.project.inputs, f'{timed.name}.dat')
                streaming.write_values(files[variable], streams[timed], timed.values.dtype)
            self.project.run(run_args, streaming.environment(len(x), files))
            for variable in self._recordings:     # Brian2 reads a recording by the shape it read last
                variable.size = (0, variable.size[1])
        else:
            self.project.run({**run_args, **streams})
        self.carried, self._ran = {}, True

    def _build(self, x, y, dt, has_target):
        """Generate and compile the project for runs of ``len(x)`` steps (cpp_standalone: parts of that many)."""
        self.steps_per_run = len(x)
        self._x_input = TimedArray(x, dt=dt, name='x_input')
        self._y_target = TimedArray(y, dt=dt, name='y_target')
        self._streams = [(self._x_input, streaming.INPUT)] + [(self._y_target, streaming.TARGET)] * has_target
        self._recordings = [variable for obj in all_objects(self.network) if isinstance(obj, StateMonitor)
                            for variable in obj.variables.values()
                            if isinstance(variable, DynamicArrayVariable) and variable.ndim == 2]
        with openmp.openmp(self.threads):
            self.network.run(len(x) * dt, namespace={'x_input': self._x_input, 'y_target': self._y_target})
            if self.device == 'cpp_standalone':
                gates.gate_run_lines(self._run_lines(), self.gates)
                starts = [group.variables['t_start'] for group in all_objects(self.network)
                          if 't_start' in getattr(group, 'variables', {})]
                streaming.stream_run_lines(self._run_lines(), starts[0].owner.clock, len(x), self._streams, starts)
            self.project.build()
        self._built = (len(get_device().main_queue), set(map(id, all_objects(self.network))))

    def _run_lines(self):
        """The lines of ``main.cpp`` that run this network (Brian2's, in the device's queue)."""
        for kind, arguments in reversed(get_device().main_queue):
            if kind == 'run_network' and arguments[0] is self.network:
                return arguments[1]
        raise RuntimeError(f'no run of {self.network.name} in the device\'s queue')

    def _check_unchanged(self):
        """Refuse what a compiled binary cannot see: Brian2 assignments (or runs) given to the device after the
        build, and objects added to the network since (each reported once)."""
        if self._built is None:      # the build failed: the project's run says so
            return
        queue, objects = self._built
        late = [item for item in get_device().main_queue[queue:]     # (Brian2 sets defaultclock.dt itself whenever
                if 'defaultclock' not in str(item[1])]                 # the device is selected; no object uses it)
        added = [obj.name for obj in all_objects(self.network) if id(obj) not in objects]
        self._built = (len(get_device().main_queue), objects | set(map(id, all_objects(self.network))))
        if late or added:
            names = sorted({str(item[1][0]) for item in late if isinstance(item[1], tuple) and item[1]})
            raise GLEConfigError(
                f'this {self.device} network was compiled by its first run; '
                + (f'{len(late)} Brian2 assignments or runs given to the device since ({", ".join(names[:5])}) '
                   if late else '') + (f'objects added since ({", ".join(added[:5])}) ' if added else '')
                + 'do not reach the binary, and nothing of them was used. Set the state with net.set_state(...), '
                'parameters with net.set_learning_rate, net.set_tau_m or net.beta, and record with record=... at '
                'construction; or build a new network.')

    @_restoring
    def value(self, group, name):
        """The values of ``group.name`` the next run starts from (a plain array, a copy)."""
        key = (group, name)
        if key in self.carried:
            return _plain(group, name, self.carried[key])
        return _plain(group, name, self._left(group, name) if self._ran else getattr(group, name)[:])

    def _left(self, group, name):
        """The values of ``group.name`` that the last run left, read from its results (not from Brian2's cache,
        which holds any value assigned through Brian2 since: the binary never saw it)."""
        get_device().array_cache[group.variables[name]] = None
        return getattr(group, name)[:]

    @_restoring
    def set_values(self, values):
        """Hand ``{(group, name): plain array}`` to the next run."""
        for (group, name), value in values.items():
            dim = group.variables[name].dim
            self.carried[(group, name)] = value if dim.is_dimensionless else Quantity(value, dim)
