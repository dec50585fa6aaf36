"""Optimisers as per-element state and update code, and the specification of what learns.

An optimiser turns the gradient ``g`` of a parameter ``p`` into a step ``delta`` (``p <- p - delta``)
and keeps its state next to ``p``: one value per synapse (weights) or per neuron (biases, ``tau_m``).
Adam's step counter is the same for every element: it is held once per parameter (``shared``; its bias
corrections are then computed once per step instead of once per element), except on GPUs, where every
thread would write a shared counter (one per element there). The updates are written
once, as expression strings in the generic names ``g``, ``lr``, ``delta`` and the state names; the same
strings become Brian2 abstract code (names suffixed with the parameter, e.g. ``m_w``) and the numpy
implementation (evaluated with numpy), so both compute the same numbers. Semantics are PyTorch's:
``SGD(lr, momentum=0)``; with momentum ``buf = mu*buf + g`` (``buf = g`` on the first step) and
``delta = lr*buf``; ``Adam`` with bias correction, ``eps = 1e-8``.

Every update is gated by a shared flag ``plastic_<param>`` (1 or 0), so learning is switched on and off
between runs without rebuilding: with the flag at 0 neither the parameter nor the optimiser state changes.

Example::

    >>> import numpy as np
    >>> from gle_brian.optimisers import Adam
    >>> opt = Adam(lr=1e-3)
    >>> state = opt.numpy_state(3)
    >>> opt.numpy_step(state, np.array([1.0, -2.0, 0.5]))        # first Adam step: lr*sign(g)
    array([ 0.001, -0.001,  0.001])
"""
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from brian2 import Quantity, ms, second
from brian2.utils.stringtools import word_substitute

from .activations import NUMPY_NAMESPACE
from .checks import check_number, check_units
from .errors import GLEConfigError

__all__ = ['Optimiser', 'SGD', 'Adam', 'Learning']


@dataclass(frozen=True)
class Optimiser:
    """Base class of :class:`SGD` and :class:`Adam`: ``STATE`` (per-element variables) and ``UPDATES``, a
    sequence of ``(name, expression)`` run in order that ends with ``delta``.
    """
    lr: float = 1e-3

    STATE = ()
    UPDATES = ()
    COUNTERS = ()     # state that is the same for every element (may be held once, see equations())

    def constants(self):
        """Hyperparameters other than ``lr``, substituted as literals into the update strings."""
        return {}

    def _updates(self):
        constants = {name: repr(float(value)) for name, value in self.constants().items()}
        return [(name, word_substitute(expression, constants)) for name, expression in self.UPDATES]

    # --- Brian2 ----------------------------------------------------------------------------------

    def _names(self, param):
        return {name: f'{name}_{param}' for name in ('g', 'lr', 'delta', 'plastic', *self.STATE)}

    def equations(self, param, shared_counters=True):
        """Brian2 equation lines of the state of ``param``, its learning rate ``lr_<param>`` and flag.

        ``shared_counters``: ``COUNTERS`` (Adam's step) held once for all elements (not on GPUs).
        """
        names = self._names(param)
        lines = [f'{names["plastic"]} : 1 (shared)  # learning of {param} on (1) or off (0)',
                 f'{names["lr"]} : 1 (shared)  # learning rate of {param}']
        lines += [f'{names[s]} : 1' + ' (shared)' * (shared_counters and s in self.COUNTERS)
                  + f'  # optimiser state of {param}' for s in self.STATE]
        return '\n'.join(lines) + '\n'

    def code(self, param, gradient, apply='p = p - plastic*delta'):
        """Brian2 abstract code of one step on ``param`` with the gradient expression ``gradient``.

        ``apply`` is the final assignment in the generic names ``p``, ``plastic`` and ``delta``. A ``gradient``
        that is the name ``g_<param>`` itself is a variable of the group (written before this code runs).
        """
        names = dict(self._names(param), p=param)
        gate = names['plastic']

        def assignment(name, expression):
            expression = word_substitute(expression, names)
            if name == 'delta':
                return f'{names["delta"]} = {expression}'
            # keep the state while the flag is 0 (exact for a flag in {0, 1})
            return f'{names[name]} = {gate}*({expression}) + (1 - {gate})*{names[name]}'

        # the counters first: Brian2 runs the statements on shared variables before the per-element ones
        updates = self._updates()
        lines = ([assignment(*update) for update in updates if update[0] in self.COUNTERS]
                 + [f'{names["g"]} = {gradient}'] * (gradient != names['g'])
                 + [assignment(*update) for update in updates if update[0] not in self.COUNTERS])
        return '\n'.join(lines + [word_substitute(apply, names)])

    # --- numpy -----------------------------------------------------------------------------------

    def numpy_state(self, shape):
        """Fresh optimiser state for a parameter of ``shape`` (zeros, as in Brian2; the counters held once)."""
        state = {name: np.zeros(() if name in self.COUNTERS else shape) for name in self.STATE}
        state['lr'] = self.lr
        return state

    def numpy_step(self, state, g):
        """One step with gradient ``g``: updates ``state`` in place and returns ``delta``."""
        values = dict(state, g=np.asarray(g, dtype=float))
        for name, expression in self._updates():
            values[name] = eval(_compiled(expression), {'__builtins__': {}, **NUMPY_NAMESPACE}, values)
        state.update({name: values[name] for name in self.STATE})
        return values['delta']


@dataclass(frozen=True)
class SGD(Optimiser):
    """Stochastic gradient descent, optionally with momentum (PyTorch's ``torch.optim.SGD``, no dampening).

    Example: ``SGD(lr=2e-4, momentum=0.9)`` (LagNet).
    """
    momentum: float = 0.0

    def __post_init__(self):
        _check_hyperparameters(self, momentum=(0, 1))

    @property
    def STATE(self):
        return ('buf',) if self.momentum else ()

    @property
    def UPDATES(self):
        if not self.momentum:
            return (('delta', 'lr*g'),)
        return (('buf', 'momentum*buf + g'),      # buf starts at 0, so the first step gives buf = g
                ('delta', 'lr*buf'))

    def constants(self):
        return {'momentum': self.momentum}


@dataclass(frozen=True)
class Adam(Optimiser):
    """Adam (PyTorch's ``torch.optim.Adam``: bias-corrected moments, ``eps`` added to sqrt of v-hat).

    Example: ``Adam(lr=1e-4)`` (LagLine).
    """
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    STATE = ('m', 'v', 'step')
    COUNTERS = ('step',)
    # clip(step, 1, inf) only keeps the (discarded) delta finite while learning is off before the first step
    UPDATES = (('step', 'step + 1'),
               ('m', 'beta1*m + (1 - beta1)*g'),
               ('v', 'beta2*v + (1 - beta2)*g*g'),
               ('delta', 'lr/(1 - beta1**clip(step, 1, inf))*m/(sqrt(v)/sqrt(1 - beta2**clip(step, 1, inf)) + eps)'))

    def __post_init__(self):
        _check_hyperparameters(self, beta1=(0, 1), beta2=(0, 1), eps=(0, np.inf))

    def constants(self):
        return {'beta1': self.beta1, 'beta2': self.beta2, 'eps': self.eps}


@lru_cache(maxsize=None)
def _compiled(expression):
    return compile(expression, f'<optimiser update {expression}>', 'eval')


_EXAMPLES = {'lr': '1e-3', 'momentum': '0.9', 'beta1': '0.9', 'beta2': '0.999', 'eps': '1e-8'}


def _check_hyperparameters(optimiser, **ranges):
    """Each hyperparameter a finite number in its ``[low, high)`` range (``lr >= 0``)."""
    for name, (low, high) in {'lr': (0, np.inf), **ranges}.items():
        check_number(getattr(optimiser, name), name, _EXAMPLES[name], low, high)


@dataclass(frozen=True)
class Learning:
    """What learns in a GLE network, and with which optimiser.

    Parameters
    ----------
    optimiser : Optimiser
        ``SGD(lr)``, ``SGD(lr, momentum=0.9)`` or ``Adam(lr)``; one optimiser state per parameter.
    lr : None or list of float
        Learning rate of each layer (its incoming weights, bias and ``tau_m``), overriding
        ``optimiser.lr``; 0 freezes a layer.
    weights : bool
        Learn the weights: ``dW/dt ~ err_post r_pre`` (gradient ``-err_post*r_pre``).
    biases : bool
        Learn the bias of the layers built with ``Layer(..., bias=True)`` (gradient ``-err``).
    tau_m : bool
        Learn the membrane time constants (gradient ``+err*du/dt``, in ``time_unit``), clamped to
        ``tau_m >= tau_m_min`` after every step.
    tau_m_min : Quantity or None
        Lower bound of learned ``tau_m``; ``None`` means ``10*dt`` (the reference's LagLine clamp).
    time_unit : Quantity
        The model's time unit (1 a.u.): the ``tau_m`` gradient and step are computed in it, so learning
        rates are those of the reference code.

    The optimiser steps once per time step, after the whole network step (the new parameters are used
    from the next step on), while ``plastic`` is on (see :meth:`GLENetwork.run`).

    Example::

        >>> Learning(Adam(lr=1e-4), weights=True, tau_m=True)                  # doctest: +SKIP
    """
    optimiser: Optimiser
    lr: tuple = None
    weights: bool = True
    biases: bool = True
    tau_m: bool = False
    tau_m_min: Quantity = None
    time_unit: Quantity = field(default_factory=lambda: 1 * ms)

    def __post_init__(self):
        if not isinstance(self.optimiser, Optimiser):
            raise GLEConfigError(f'optimiser={self.optimiser!r}: give an optimiser, e.g. Adam(lr=1e-4) or '
                                 'SGD(lr=0.01).')
        if self.lr is not None:
            for l, lr in enumerate(np.atleast_1d(np.asarray(self.lr, dtype=object))):
                check_number(lr, f'lr[{l}]', '1e-3')
        for name in ('tau_m_min', 'time_unit'):
            value = getattr(self, name)
            if value is None and name == 'tau_m_min':
                continue
            check_units(value, second, name, '1*ms')
            if not 0 < float(value) < np.inf:
                raise GLEConfigError(f'{name}={value!r} must be a positive, finite time, e.g. {name}=1*ms.')

    def learning_rates(self, n_layers):
        """The learning rate of each of ``n_layers`` layers."""
        if self.lr is None:
            return [float(self.optimiser.lr)] * n_layers
        rates = [float(lr) for lr in np.atleast_1d(self.lr)]
        if len(rates) != n_layers:
            raise GLEConfigError(f'lr={self.lr!r}: give {n_layers} non-negative learning rates, one per layer '
                                 '(0 freezes a layer), or None to use the optimiser\'s.')
        return rates

    def min_tau_m(self, dt):
        """The clamp of learned ``tau_m`` in seconds (checked against ``dt``)."""
        low = 10 * float(dt) if self.tau_m_min is None else float(self.tau_m_min)
        if low < float(dt) * (1 - 1e-12):
            raise GLEConfigError(f'tau_m_min={self.tau_m_min} is below dt={dt}: the Euler step would be unstable; '
                                 'make tau_m_min >= dt.')
        return low
