"""The output error of a GLE population, as a Brian2 object: MSE or cross-entropy against a target.

A :class:`GLETarget` writes the apical input of a :class:`~gle_brian.groups.GLEGroup` at the start of every
step, from the rates stored before it (docs/model.rst, section 'Output errors'):

* ``'mse'``: ``I_apical = beta*(target - r)``;
* ``'ce'``: ``I_apical = beta*(target - softmax(r))`` over the group's neurons (per batch copy), the target one-hot
  or probabilities, with the rates as logits.

A group that also sends projections adds the output error to the feedback they sent back. The target is an
expression (of ``t``, ``i`` and anything a Brian2 expression may use, found in the run namespace like any
Brian2 expression), a :class:`~brian2.TimedArray` (sampled as ``values(t, i)``), a variable of another group of
the same size (e.g. ``teacher.r``) or a number. ``beta`` is a variable of the group (``group.beta``), so it can
be changed between runs (on standalone devices through ``run_args``).

Example::

    >>> from brian2 import ms, NeuronGroup
    >>> from gle_brian import GLEGroup
    >>> out = GLEGroup(2, tau_m=1*ms, dt=0.01*ms)
    >>> target = GLETarget(out, 'sin(2*pi*t/(10*ms))', beta=0.1)
    >>> print(target.code())
    I_apical = beta*((sin(2*pi*t/(10*ms))) - r)
"""
import numpy as np
from brian2 import Synapses, TimedArray
from brian2.core.base import BrianObject
from brian2.core.variables import VariableView
from brian2.utils.stringtools import word_substitute

from .checks import check_number
from .errors import GLEConfigError
from .groups import DynamicCode, GLEGroup, register_synapses
from .schedule import schedule

__all__ = ['GLETarget', 'LOSSES', 'OUTPUT_ERROR', 'SOFTMAX_NORMALISER']

LOSSES = ('mse', 'ce')

#: the output error against the stored (old) rates, with the target expression ``target``
OUTPUT_ERROR = {'mse': 'beta*(target - r)', 'ce': 'beta*(target - 1/softmax_sum)'}

# Cross-entropy: softmax(r)_k = 1/sum_j exp(r_j - r_k), summed by synapses between the outputs of the same batch
# copy. Stable without a maximum: the largest rate's sum lies in [1, n]. Differences are clipped at 700, so the
# sums stay finite (below 10^4 outputs): a softmax below exp(-700) = 1e-304 stays below it.
SOFTMAX_NORMALISER = '''
softmax_sum_post = exp(clip(r_pre - r_post, -inf, 700)) : 1 (summed)   # sum_j exp(r_j - r_k), j in the copy
'''


class GLETarget(BrianObject):
    """The output error of ``group`` against ``target``.

    Parameters
    ----------
    group : GLEGroup
        The output population (one target per group).
    target : str, TimedArray, VariableView or float
        An expression such as ``'sin(2*pi*t/(10*ms))'`` or ``'teacher_values(t, i)'``; a TimedArray of shape
        ``(steps, batch*N)``; a variable of a group of the same size (``teacher.r``); or a constant.
    loss : 'mse' or 'ce'
        Mean squared error or cross-entropy (softmax over the group's neurons of each batch copy).
    beta : float
        Output error strength (``group.beta``).
    name : str
        The Brian2 name of the target (it names its objects).
    """

    add_to_magic_network = True

    def __init__(self, group, target, loss='mse', beta=1.0, name='gletarget*'):
        if not isinstance(group, GLEGroup):
            raise GLEConfigError(f'group={group!r}: an output error belongs to a GLEGroup.')
        if loss not in LOSSES:
            raise GLEConfigError(f'loss={loss!r} is not known; use one of {list(LOSSES)}.')
        check_number(beta, 'beta', '0.1')
        if 'beta' in group.variables:
            raise GLEConfigError(f'{group.name} has an output error already; give each GLEGroup one GLETarget.')
        super().__init__(clock=group.clock, name=name)
        self.group, self.loss = group, loss
        self.expression = self._expression(target)
        group.add_variable('beta', shared=True, description='output error strength')
        group.beta = float(beta)
        if loss == 'ce':
            group.add_variable('softmax_sum',
                               description='sum_j exp(r_j - r_k) over the outputs j of the same batch copy')
            n, B = group.n, group.batch
            softmax = Synapses(group, group, SOFTMAX_NORMALISER, clock=group.clock, name=f'{self.name}_softmax')
            softmax.connect(i=np.repeat(np.arange(B * n), n),
                            j=np.repeat(np.arange(B) * n, n * n) + np.tile(np.arange(n), B * n))
            schedule(softmax.summed_updaters['softmax_sum_post'], 'softmax')
            self.contained_objects.append(softmax)
        self.contained_objects.append(DynamicCode(group, self.code, f'{self.name}_error', 'output_error'))

    def before_run(self, run_namespace):
        register_synapses(self)
        super().before_run(run_namespace)

    def _expression(self, target):
        """The target as an expression in the group's context."""
        group = self.group
        if isinstance(target, str):
            return target
        if isinstance(target, TimedArray):
            name = f'{self.name}_values'
            group.namespace[name] = target
            return f'{name}(t, i)'
        if isinstance(target, VariableView):
            source = target.group
            if len(source) != len(group):
                raise GLEConfigError(f'target={source.name}.{target.name} has {len(source)} values for the '
                                     f'{len(group)} neurons of {group.name}; give a variable of a group of that size.')
            name = f'{self.name}_target'
            group.variables.add_reference(name, source, target.name)
            return name
        if isinstance(target, (int, float, np.number)) and np.isfinite(target):
            return repr(float(target))
        raise GLEConfigError(f'target={target!r}: give an expression string (e.g. "sin(2*pi*t/(10*ms))"), a '
                             'TimedArray, a variable of a group of the same size (e.g. teacher.r) or a number.')

    def code(self):
        """The abstract code of the output error (added to the projections' feedback where there is some)."""
        error = word_substitute(OUTPUT_ERROR[self.loss], {'target': f'({self.expression})'})
        return f'I_apical = {"I_apical + " * bool(self.group.apical_inputs)}{error}'
