"""GLE neurons as Brian2 equations.

A GLE neuron has three compartments (docs/model.rst, section 'The neuron'):

* the **basal** dendrite sums the bottom-up drive ``I_basal = sum w r_pre`` of feed-forward synapses;
* the **soma** low-pass filters basal input and nudging with ``tau_m`` and emits the *prospective* rate
  ``r = phi(u_breve)``, ``u_breve = u + tau_r du/dt`` (a look-ahead by ``tau_r``);
* the **apical** dendrite receives the error from above, ``I_apical``; the error compartment low-pass
  filters ``eps = phi'(u_breve) I_apical`` with ``tau_r`` (retrospective) and looks ahead by ``tau_m``
  (prospective): the two time constants swap roles on the way down.

The step is split into the operations that :class:`~gle_brian.groups.GLEGroup` puts into their slots of
:data:`~gle_brian.schedule.SCHEDULE`: the dendrites (read the stored errors and inputs, write ``err`` and
``u_breve``: :func:`dendrite_code`), the Euler state update of ``u`` and ``v``, and the rate (write ``r`` and
``r_prime``: :func:`rate_code`). ``tau_r = tau_m`` is the Latent Equilibrium (LE) case; with
``prospective_errors=False`` the error is the instantaneous ``eps`` (the reference's "BP" variant).
Per-neuron plasticity (``db/dt ~ err``, ``dtau_m/dt ~ -err du/dt``) is an optimiser step run once per
step after the network step (:func:`plasticity_code`).

Example::

    >>> from brian2 import ms
    >>> from gle_brian import Layer
    >>> hidden = Layer(53, 'tanh').with_groups((17, 0.6*ms, 0.2*ms), (18, 1.2*ms, 0.2*ms), (18, 1.2*ms))
    >>> print(neuron_equations(prospective_errors=True))          # doctest: +SKIP
"""
import re
from dataclasses import dataclass, field, replace

import numpy as np
from brian2 import Equations, Quantity, second
from brian2.utils.stringtools import word_substitute

from .activations import get_activation
from .checks import check_number, check_units
from .errors import GLEConfigError

__all__ = ['Layer', 'neuron_equations', 'dendrite_code', 'representation_equations', 'error_equations', 'error_code',
           'representation_code', 'rate_code', 'NEURON_STATE', 'STATE_VARIABLES',
           'NONFINITE_STEP', 'DESCRIPTIONS', 'variable_descriptions', 'plasticity_equations',
           'plasticity_code', 'PARAMETERS', 'batch_gradient_equations']

# --- The equations -------------------------------------------------------------------------------

# Every variable a neuron stores is declared once, in these strings; the comment ending its line says what it
# is (figure labels, NWB descriptions: DESCRIPTIONS below).
SOMA_STATE = '''
du/dt = du_dt : 1                                  # membrane potential (soma): basal input low-passed with tau_m
du_dt = (I_basal + I_ext + b + gamma*err - u)/tau_m : 1/second
u_breve : 1                                        # prospective potential u + tau_r du/dt
r : 1                                              # rate phi(u_breve)
r_prime : 1                                        # phi'(u_breve), gates the next step's error
err : 1                                            # error e = v + tau_m dv/dt or, if instantaneous, eps
I_basal : 1                                        # basal dendrite input: sum of w r_pre
I_apical : 1                                       # apical dendrite input: error sent down from the layer above
'''

SOMA = SOMA_STATE + '''
b : 1                                              # bias
tau_m : second                                     # membrane time constant
tau_r : second                                     # prospective (look-ahead) time constant
gamma : 1                                          # nudging of the soma by the error
I_ext : 1                                          # the user's own drive onto the soma (never written here)
nonfinite_step : integer                           # 1 + first time step with u, r or err NaN or inf; 0: none
'''

# Watch for NaN and inf, written with the rate at the end of each step: 1 + the step (Brian2's time step
# index of the clock, timestep(t, dt)) at which u, r or err first was NaN or inf. abs(x) < inf is false for both
# (Brian2's C++ flags keep -fno-finite-math-only). Set to 0 before every run, so it is not part of the state.
NONFINITE_STEP = 'nonfinite_step'
# Written as a product of integers, not with 'and' (branches in C++): the rate loop stays one that gcc vectorises.
_NONFINITE_CODE = ('nonfinite_step = nonfinite_step + int(nonfinite_step == 0)'
                   '*(1 - int(abs(u) < inf)*int(abs(r) < inf)*int(abs(err) < inf))*(timestep(t, dt) + 1)')

INSTANTANEOUS_ERROR = '''
eps = r_prime*I_apical : 1                         # instantaneous error phi'(u_breve) * apical input
'''

PROSPECTIVE_ERROR = INSTANTANEOUS_ERROR + '''
dv/dt = dv_dt : 1                                  # low-pass filtered error (retrospective, tau_r)
dv_dt = (eps - v)/tau_r : 1/second
'''

# Written once per step, before the Euler update: the error (prospective e = v + tau_m dv/dt, or eps)
# and the prospective potential from the *old* membrane potential.
_ERROR_CODE = {True: 'err = v + tau_m*dv_dt', False: 'err = eps'}
_PROSPECTIVE_POTENTIAL_CODE = 'u_breve = u + tau_r*du_dt'

# Learned time constants: the drive err*du/dt of this step, stored before the Euler update changes u.
TAU_M_DRIVE = '''
err_du_dt : 1/second                               # err*du/dt of this step (drives tau_m learning)
'''
_TAU_M_DRIVE_CODE = 'err_du_dt = err*du_dt'


def variable_descriptions(equations):
    """``{name: description}`` of the variables that ``equations`` (a string) stores, in their order.

    A stored variable is a differential equation (``dx/dt = ...``) or a declaration (``x : unit``) whose
    line ends in a ``# comment``, the description (:class:`brian2.Equations` drops comments).
    Subexpressions (``x = ... : unit``) are not stored and are left out.

    Example::

        >>> variable_descriptions('dv/dt = (eps - v)/tau_r : 1   # low-pass filtered error')
        {'v': 'low-pass filtered error'}
    """
    found = {}
    for line in equations.splitlines():
        match = re.match(r'\s*(?:d(\w+)/dt\s*=|(\w+)\s*:)[^#]*#\s*(.+)', line)
        if match:
            found[match[1] or match[2]] = match[3].strip()
    return found


#: what each variable of a GLE neuron is, from the comments of the equations above
DESCRIPTIONS = variable_descriptions(SOMA + PROSPECTIVE_ERROR + TAU_M_DRIVE)
#: the state of every GLE neuron, in the order of the equations (``v`` only with prospective errors)
STATE_VARIABLES = tuple(variable_descriptions(SOMA_STATE + PROSPECTIVE_ERROR))
#: what a neuron carries from one step to the next (all zero at the start): the state, the drive of
#: ``tau_m`` learning and the softmax normaliser of a cross-entropy output layer (declared by the network)
NEURON_STATE = STATE_VARIABLES + tuple(variable_descriptions(TAU_M_DRIVE)) + ('softmax_sum',)

# Per-neuron plasticity (docs/model.rst, section 'Plasticity'): db/dt ~ err, dtau_m/dt ~ -err du/dt;
# the gradients (in the time unit of the model for tau_m, see Learning.time_unit).
BIAS_GRADIENT = '-err'
TAU_M_GRADIENT = 'err_du_dt*{unit}'

# A batch of B copies of a layer shares b and tau_m: they are held once, in a parameter group of the
# layer's size, and the copies link to them. The gradient drives are summed over the batch into it.
PARAMETERS = '''
b : 1                                              # bias, shared by the copies of the batch
tau_m : second                                     # membrane time constant, shared
'''
_BATCH_SUMS = {   # param: (variable of the parameter group, equation of the summing synapses)
    'b': ('err_sum : 1\n', 'err_sum_post = err_pre : 1 (summed)             # sum of err over the batch\n'),
    'tau_m': ('err_du_dt_sum : 1/second\n', 'err_du_dt_sum_post = err_du_dt_pre : 1/second (summed)\n')}

def neuron_equations(prospective_errors=True, shared_parameters=False, errors=True):
    """The model equations of a GLE layer (a string for :class:`brian2.Equations`).

    ``shared_parameters=True`` (batches): ``b`` and ``tau_m`` are linked to a group holding them once.
    ``errors=False``: without the error dynamics (the representation neurons of the microcircuit form,
    whose error neurons compute them).
    """
    equations = SOMA + ((PROSPECTIVE_ERROR if prospective_errors else INSTANTANEOUS_ERROR) if errors else '')
    if shared_parameters:
        equations = re.sub(r'^(b|tau_m) : (\S+)', r'\1 : \2 (linked)', equations, flags=re.MULTILINE)
    return equations


# The error neuron of the microcircuit form: the error dynamics, the inputs they read and the time constants of
# its partner representation neuron (linked: held once).
_ERROR_NEURON_VARIABLES = ('r_prime', 'I_apical', 'err')
LINKED_TIME_CONSTANTS = '''
tau_m : second (linked)                            # look-ahead of the error = partner's membrane tau_m
tau_r : second (linked)                            # low-pass of the error = partner's prospective tau_r
'''


def representation_equations():
    """Equations of a representation neuron (microcircuit form): the compact neuron without the error dynamics."""
    return Equations(neuron_equations(errors=False))


def error_equations(prospective_errors=True):
    """Equations of an error neuron (microcircuit form): the error dynamics plus the inputs and time constants
    they read."""
    soma = Equations(SOMA)
    return (Equations(PROSPECTIVE_ERROR if prospective_errors else INSTANTANEOUS_ERROR)
            + Equations([soma[name] for name in _ERROR_NEURON_VARIABLES]) + Equations(LINKED_TIME_CONSTANTS))


def error_code(prospective_errors=True):
    """Code that writes the error ``err`` (prospective ``v + tau_m dv/dt``, or instantaneous ``eps``)."""
    return _ERROR_CODE[prospective_errors]


def representation_code(learn_tau_m=False):
    """Code that writes the prospective potential (and, when ``tau_m`` learns, its drive ``err du/dt``)."""
    return '\n'.join([_PROSPECTIVE_POTENTIAL_CODE] + [_TAU_M_DRIVE_CODE] * learn_tau_m)


def dendrite_code(prospective_errors=True, learn_tau_m=False):
    """Code run each step before the state update: the error, then the prospective potential."""
    return error_code(prospective_errors) + '\n' + representation_code(learn_tau_m)


def plasticity_equations(optimiser, params, batch=1, shared_counters=True):
    """Equations of the per-neuron learning state of ``params`` (``'b'``, ``'tau_m'``).

    With ``batch > 1`` they belong to the parameter group (see :data:`PARAMETERS`). ``shared_counters``:
    see :meth:`Optimiser.equations <gle_brian.optimisers.Optimiser.equations>`.
    """
    if batch > 1:
        return ''.join(_BATCH_SUMS[param][0] + optimiser.equations(param, shared_counters) for param in params)
    return ''.join((TAU_M_DRIVE if param == 'tau_m' else '') + optimiser.equations(param, shared_counters)
                   for param in params)


def batch_gradient_equations(params):
    """Equations of the synapses (layer copies -> parameter group) that sum the drives over the batch."""
    return ''.join(_BATCH_SUMS[param][1] for param in params)


def plasticity_code(optimiser, param, time_unit=None, tau_m_min=None, batch=1):
    """Code run once per step after the network step: an optimiser step on ``param`` (``'b'``, ``'tau_m'``).

    ``time_unit`` and ``tau_m_min`` are in seconds; ``tau_m`` is clamped to ``>= tau_m_min``. With
    ``batch > 1`` the gradient is the batch mean of the drives summed into the parameter group.
    """
    means = {'err': f'(err_sum/{batch})', 'err_du_dt': f'(err_du_dt_sum/{batch})'} if batch > 1 else {}
    if param == 'b':
        return optimiser.code('b', word_substitute(BIAS_GRADIENT, means))
    unit, low = f'{float(time_unit)!r}*second', f'{float(tau_m_min)!r}*second'
    return optimiser.code('tau_m', word_substitute(TAU_M_GRADIENT.format(unit=unit), means),
                          apply=f'p = clip(p - plastic*delta*{unit}, {low}, inf*second)')


def rate_code(activation):
    """Code run at the end of each step: the rate and its derivative from ``u_breve``, then the NaN watch."""
    phi, phi_prime = get_activation(activation).expressions('u_breve', rate='r')
    return f'r = {phi}\nr_prime = {phi_prime}\n{_NONFINITE_CODE}'


# --- Layer specification -------------------------------------------------------------------------

@dataclass(frozen=True)
class Layer:
    """One layer of GLE neurons.

    Parameters
    ----------
    size : int
        Number of neurons.
    activation : str or Activation
        ``'linear'``, ``'tanh'``, ``'sigmoid'``, ``'softplus'``, ``'relu'`` or an :class:`Activation`.
    tau_m : Quantity
        Membrane time constant (time units), one value or one per neuron.
    tau_r : Quantity or None
        Prospective time constant; ``None`` means ``tau_r = tau_m`` (Latent Equilibrium).
    gamma : float
        Nudging strength of the soma by the neuron's own error.
    bias : bool
        Whether the layer has a bias ``b``.
    prospective_errors : bool
        ``True`` (GLE): errors are low-pass filtered with ``tau_r`` and advanced by ``tau_m``.
        ``False``: instantaneous errors ``phi'(u_breve) * apical`` (the reference's BP variant).

    Example::

        >>> Layer(2, 'tanh', tau_m=[1, 1]*ms, tau_r=[1, 0.1]*ms)          # doctest: +SKIP
    """
    size: int
    activation: object = 'linear'
    tau_m: Quantity = field(default=None)
    tau_r: Quantity = None
    gamma: float = 0.0
    bias: bool = False
    prospective_errors: bool = True

    def with_groups(self, *groups):
        """The same layer with time constants given per group: ``(count, tau_m[, tau_r])`` tuples.

        A group without ``tau_r`` is LE. The counts must add up to ``size``.
        """
        counts = [g[0] for g in groups]
        if sum(counts) != self.size:
            raise GLEConfigError(f'groups: the counts {counts} add up to {sum(counts)}, but size={self.size}; '
                                 'make the counts add up to the layer size.')
        tau_m = np.concatenate([np.full(g[0], float(g[1])) for g in groups]) * second
        tau_r = np.concatenate([np.full(g[0], float(g[2] if len(g) > 2 else g[1])) for g in groups]) * second
        return replace(self, tau_m=tau_m, tau_r=tau_r)

    def time_constants(self, dt):
        """``(tau_m, tau_r)`` as float arrays in seconds of length ``size``, checked against ``dt``."""
        if self.tau_m is None:
            raise GLEConfigError('tau_m is missing: give each Layer a membrane time constant, e.g. tau_m=10*ms.')
        taus = {}
        for name, value in (('tau_m', self.tau_m), ('tau_r', self.tau_m if self.tau_r is None else self.tau_r)):
            check_units(value, second, name, '10*ms')
            arr = np.broadcast_to(np.asarray(value, dtype=float), (self.size,)) if np.size(value) in (1, self.size) \
                else None
            if arr is None:
                raise GLEConfigError(f'{name} has {np.size(value)} values but the layer has size={self.size}; '
                                     f'give one value or {self.size}.')
            if not np.all(np.isfinite(arr)) or np.any(arr < float(dt) * (1 - 1e-12)):
                raise GLEConfigError(f'{name}={Quantity(arr.min(), dim=second.dim)} is below dt={dt}: the Euler '
                                     f'step is unstable; make {name} >= dt or use a smaller dt.')
            taus[name] = arr.copy()
        return taus['tau_m'], taus['tau_r']

    def check(self):
        """Validate size, activation and gamma; returns the :class:`Activation`."""
        if not isinstance(self.size, (int, np.integer)) or self.size < 1:
            raise GLEConfigError(f'size={self.size!r}: a layer needs a positive integer number of neurons.')
        check_number(self.gamma, 'gamma', '0.1 (0 for no nudging)', low=-np.inf)
        return get_activation(self.activation)
