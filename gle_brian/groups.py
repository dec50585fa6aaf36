"""GLE neurons as a Brian2 group that any Brian2 script can hold, connect, monitor and ``run()``.

:class:`GLEGroup` is a :class:`~brian2.NeuronGroup` with the GLE neuron's equations (:mod:`gle_brian.neurons`):
soma, basal and apical dendrites, prospective potential, error compartment, rate. It brings its own
operations as contained objects, each in its slot of :data:`~gle_brian.schedule.SCHEDULE`: the dendrites (the
error and ``u_breve`` from the stored values), the Euler step, the rate, and the optimiser steps of its
learned ``b`` and ``tau_m``. Projections (:class:`~gle_brian.projections.GLEProjection`) add their basal
and apical inputs to it; a :class:`~gle_brian.targets.GLETarget` gives it an output error.

Variables a user may read or write: ``u``, ``u_breve``, ``r``, ``r_prime``, ``err``, ``v`` (prospective
errors), ``I_basal``, ``I_apical``, ``b``, ``tau_m``, ``tau_r``, ``gamma`` and ``I_ext``, the user's own drive
onto the soma, which the package never writes. ``nonfinite_step`` holds 1 + the first time step at which
``u``, ``r`` or ``err`` was NaN or inf (0: none).

Example::

    >>> from brian2 import ms, NeuronGroup, Network, prefs
    >>> prefs.codegen.target = 'numpy'            # (or cython, or a standalone device)
    >>> hidden = GLEGroup(3, 'tanh', tau_m=1*ms, tau_r=0.1*ms, dt=0.01*ms, name='hidden')
    >>> hidden.I_ext = 0.5                        # a constant drive
    >>> net = Network(hidden)
    >>> net.run(1*ms)
    >>> print(round(float(hidden.u[0]), 3))       # 0.5*(1 - exp(-1)) after one tau_m
    0.317
"""

import numpy as np
from brian2 import Equations, NeuronGroup, Synapses, defaultclock, linked_var, prefs, second
from brian2.devices import get_device
from brian2.devices.device import all_devices
from brian2.groups.group import CodeRunner
from brian2.units.fundamentalunits import DIMENSIONLESS

from . import neurons
from .checks import check_size
from .errors import GLEConfigError
from .neurons import (Layer, dendrite_code, error_code, error_equations, neuron_equations, rate_code,
                      representation_code)
from .optimisers import Learning
from .schedule import schedule

__all__ = ['GLEGroup', 'DynamicCode', 'on_gpu', 'register_synapses']

# The microcircuit form's one-to-one links (Brian2 summed variables over a single synapse per neuron).
RATE_LINK = '''
r_prime_post = r_prime_pre : 1 (summed)            # phi'(u_breve) of the partner representation neuron
I_apical_post = I_apical_pre : 1 (summed)          # top-down input of its apical dendrite
'''
ERROR_LINK = '''
err_post = err_pre : 1 (summed)                    # the error, into the apical compartment
'''


def on_gpu():
    """Whether Brian2's current device is brian2cuda's (optimiser counters are then held per element)."""
    return 'cuda_standalone' in all_devices and get_device() is all_devices['cuda_standalone']


def register_synapses(obj):
    """Tell a standalone device about the Synapses among ``obj``'s contained objects.

    Brian2's standalone devices declare the per-Synapses globals of the generated project (brian2cuda:
    ``<name>_multiple_pre_post``) for the Synapses added to a Network directly; those a GLE object brings as
    contained objects are added here, before a run's code is generated."""
    device = get_device()
    if isinstance(getattr(device, 'synapses', None), set):
        device.synapses.update(o for o in obj.contained_objects if isinstance(o, Synapses))


class DynamicCode(CodeRunner):
    """A :class:`~brian2.groups.group.CodeRunner` whose abstract code is ``make_code()``, asked for before every
    run: the code a population runs depends on the projections and targets added to it after it was made. No
    code (an empty string) runs nothing."""

    def __init__(self, group, make_code, name, operation):
        super().__init__(group, 'stateupdate', code='', clock=group.clock, name=name, generate_empty_code=False)
        schedule(self, operation)
        self.make_code = make_code

    def update_abstract_code(self, run_namespace):
        self.abstract_code = self.make_code()


class GLEGroup(NeuronGroup):
    """A population of GLE neurons (``batch`` copies of ``N`` neurons in one Brian2 group of ``batch*N``).

    Parameters
    ----------
    N : int
        Neurons per copy.
    activation : str or Activation
        ``'linear'``, ``'tanh'``, ``'sigmoid'``, ``'softplus'``, ``'relu'`` or an :class:`~gle_brian.Activation`.
    tau_m : Quantity
        Membrane time constant, one value or one per neuron (``>= dt``).
    tau_r : Quantity or None
        Prospective time constant (``>= dt``); ``None``: ``tau_r = tau_m``, Latent Equilibrium.
    gamma : float
        Nudging of the soma by the neuron's own error.
    bias : float or array
        Initial bias ``b`` (one value or one per neuron).
    prospective_errors : bool
        ``True``: errors low-passed with ``tau_r`` and advanced by ``tau_m`` (GLE); ``False``: instantaneous.
    batch : int
        Copies that run side by side on different inputs and share ``b`` and ``tau_m`` (held once, in
        ``parameters``; gradients are batch means).
    learning : Learning or None
        What of the group learns: ``b`` when ``learning.biases``, ``tau_m`` when ``learning.tau_m`` (clamped to
        ``tau_m >= learning.tau_m_min``), with ``learning.optimiser``; the learning rate is ``lr_b`` / ``lr_tau_m``
        and ``plastic_b`` / ``plastic_tau_m`` (1 or 0) switch it on and off between runs.
    microcircuit : bool
        Build the error compartment as a population of its own (``error_neurons``, named ``<name>_error``),
        linked one-to-one (docs/model.rst, section 'Representation and error populations').
    dt, clock :
        As for a NeuronGroup (default: Brian2's ``defaultclock``).
    name : str
        The Brian2 name (it names the group's other objects too).
    """

    def __init__(self, N, activation='linear', tau_m=None, tau_r=None, gamma=0.0, bias=0.0,
                 prospective_errors=True, batch=1, learning=None, microcircuit=False, dt=None, clock=None,
                 name='glegroup*'):
        layer = Layer(N, activation, tau_m, tau_r, gamma, True, prospective_errors)
        self.activation = layer.check()
        batch = check_size(batch, 'batch')
        if learning is not None and not isinstance(learning, Learning):
            raise GLEConfigError(f'learning={learning!r}: give a Learning, e.g. learning=Learning(Adam(lr=1e-4)).')
        step = float(dt if dt is not None else (clock or defaultclock).dt)
        tau_m, tau_r = layer.time_constants(step)
        self.n, self.batch, self.layer, self.learning = int(N), int(batch), layer, learning
        self.learned = [] if learning is None else ['b'] * bool(learning.biases) + ['tau_m'] * bool(learning.tau_m)
        self.tau_m_min = learning.min_tau_m(step) if 'tau_m' in self.learned else None
        if self.tau_m_min is not None and tau_m.min() < self.tau_m_min * (1 - 1e-12):
            raise GLEConfigError(f'tau_m={tau_m.min()} s is below the clamp of learned time constants, tau_m_min='
                                 f'{self.tau_m_min} s; raise tau_m or lower Learning(tau_m_min=...).')
        counters = not on_gpu()
        B = self.batch
        equations = neuron_equations(prospective_errors, shared_parameters=B > 1, errors=not microcircuit)
        if self.learned and B == 1:
            equations += neurons.plasticity_equations(learning.optimiser, self.learned, shared_counters=counters)
        if 'tau_m' in self.learned and B > 1:
            equations += neurons.TAU_M_DRIVE
        #: basal inputs of the projections into the group (expressions), summed by the dendrites
        self.basal_inputs = []
        self.basal_preparations = []     # statements the dendrites run before (dense products computed whole)
        #: the variables the feedback of the projections leaving the group goes into, summed into I_apical
        self.apical_inputs = []
        self.parameters = self.error_neurons = None
        self.links = []
        super().__init__(B * self.n, equations, method='euler', dt=dt, clock=clock, name=name, namespace={})
        self.parameters = self
        if B > 1:
            self._shared_parameters(learning, counters)
        self.parameters.tau_m = tau_m * second
        self.parameters.b = np.broadcast_to(np.asarray(bias, dtype=float), (self.n,))
        self.tau_r = np.tile(tau_r, B) * second
        self.gamma = layer.gamma
        learn_tau_m = 'tau_m' in self.learned
        dendrites = representation_code(learn_tau_m) if microcircuit else dendrite_code(prospective_errors, learn_tau_m)
        self.contained_objects.extend([
            DynamicCode(self, lambda: self._basal_code() + dendrites, f'{self.name}_dendrites', 'dendrites'),
            DynamicCode(self, self._apical_code, f'{self.name}_apical_sum', 'apical_sum')])
        schedule(self.state_updater, 'soma')
        schedule(self.run_regularly(rate_code(self.activation), name=f'{self.name}_rate'), 'rate')
        for param in self.learned:
            code = neurons.plasticity_code(learning.optimiser, param, float(learning.time_unit), self.tau_m_min, B)
            schedule(self.parameters.run_regularly(code, name=f'{self.name}_{param}_plasticity'), 'plasticity')
            setattr(self.parameters, f'plastic_{param}', 1)
            setattr(self.parameters, f'lr_{param}', learning.learning_rates(1)[0])
        self.error_neurons = self._error_population(prospective_errors) if microcircuit else None

    def _shared_parameters(self, learning, counters):
        """Hold ``b`` and ``tau_m`` once, in ``parameters``, with the synapses that sum their drives over the copies."""
        copies = np.arange(len(self)) % self.n
        self.parameters = NeuronGroup(self.n, neurons.PARAMETERS + (neurons.plasticity_equations(
            learning.optimiser, self.learned, self.batch, counters) if self.learned else ''), clock=self.clock,
            name=f'{self.name}_parameters')
        self.b = linked_var(self.parameters, 'b', index=copies)
        self.tau_m = linked_var(self.parameters, 'tau_m', index=copies)
        self.contained_objects.append(self.parameters)
        if self.learned:
            sums = Synapses(self, self.parameters, neurons.batch_gradient_equations(self.learned), clock=self.clock,
                            name=f'{self.name}_batch_sums')
            sums.connect(i=np.arange(len(self)), j=copies)
            for updater in sums.summed_updaters.values():
                schedule(updater, 'gradient')
            self.contained_objects.append(sums)

    def _error_population(self, prospective_errors):
        """The error neurons of the microcircuit form and the one-to-one links to and from them."""
        err = NeuronGroup(len(self), error_equations(prospective_errors), method='euler', clock=self.clock,
                          name=f'{self.name}_error')
        err.tau_m = linked_var(self, 'tau_m')
        err.tau_r = linked_var(self, 'tau_r')
        schedule(err.state_updater, 'soma')
        schedule(err.run_regularly(error_code(prospective_errors), name=f'{self.name}_error_dendrites'),
                 'error_dendrites')
        rate_link = Synapses(self, err, RATE_LINK, clock=self.clock, name=f'{self.name}_rate_link')
        error_link = Synapses(err, self, ERROR_LINK, clock=self.clock, name=f'{self.name}_error_link')
        for link in (rate_link, error_link):
            link.connect(j='i')
        for variable in ('r_prime_post', 'I_apical_post'):
            schedule(rate_link.summed_updaters[variable], 'rate_link')
        schedule(error_link.summed_updaters['err_post'], 'error_link')
        self.links = [rate_link, error_link]
        self.contained_objects.extend([err, rate_link, error_link])
        return err

    def before_run(self, run_namespace):
        register_synapses(self)
        super().before_run(run_namespace)

    # --- what projections and targets add ------------------------------------------------------------

    def add_variable(self, name, shared=False, integer=False, unit=None, constant=False, dtype=None, description=''):
        """Declare the variable ``name`` (per neuron, or one ``shared`` value; dimensionless, or of the Brian2 ``unit``;
        an ``integer`` is ``constant``: not changed by a run, set between runs, not part of the state; ``dtype``: the
        group's float type unless given) after the group was made: the share of one projection's sum, an output
        error's ``beta``. It joins the group's equations as a parameter, as if declared there. Returns its name."""
        if name in self.variables:
            raise GLEConfigError(f'{self.name} has a variable {name!r} already; give the projection or target '
                                 'another name.')
        constant = constant or integer
        flags = ', '.join(['shared'] * shared + ['constant'] * constant)
        kind = 'integer' if integer else '1' if unit is None else unit.name
        line = f'{name} : {kind}' + (f' ({flags})' if flags else '') + (f'  # {description}' if description else '')
        self.variables.add_array(name, size=1 if shared else len(self),
                                 dimensions=DIMENSIONLESS if unit is None else unit.dim,
                                 dtype=prefs.core.default_integer_dtype if integer
                                 else dtype or self.variables['u'].dtype,
                                 constant=constant, scalar=shared)
        self.equations = self.equations + Equations(line)
        return name

    def add_basal_input(self, expression, before=None):
        """Add ``expression`` (in the group's variables and namespace) to the basal input the dendrites sum;
        ``before``: a statement the dendrites run first (e.g. a dense product computed whole)."""
        self.basal_inputs.append(expression)
        if before:
            self.basal_preparations.append(before)

    def add_apical_input(self, name):
        """Declare the variable ``name`` that one outgoing projection writes its feedback into; the group sums
        those into ``I_apical`` after every step (they are the apical input of the next step)."""
        self.apical_inputs.append(self.add_variable(name, description='one projection\'s share of I_apical'))
        return name

    def _basal_code(self):
        if not self.basal_inputs:
            return ''
        return ''.join(f'{line}\n' for line in self.basal_preparations) + f'I_basal = {" + ".join(self.basal_inputs)}\n'

    def _apical_code(self):
        return f'I_apical = {" + ".join(self.apical_inputs)}' if self.apical_inputs else ''

    # --- reading and switching --------------------------------------------------------------------------

    def groups(self):
        """The Brian2 groups of the population: the neurons (and the microcircuit form's error neurons)."""
        return [self] + ([self.error_neurons] if self.error_neurons is not None else [])

    def learn(self, on=True):
        """Switch the plasticity of ``b`` and ``tau_m`` on or off (takes effect in the next run)."""
        for param in self.learned:
            setattr(self.parameters, f'plastic_{param}', float(on))

