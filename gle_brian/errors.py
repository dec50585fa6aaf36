"""Exceptions raised for bad input. Every message names the parameter at fault and the fix."""
import numpy as np
from brian2 import Hz, second
from brian2.units.fundamentalunits import DimensionMismatchError, fail_for_dimension_mismatch

__all__ = ['GLEConfigError', 'GLEInputError', 'GLEDeviceError', 'GLENumericalError', 'check_units', 'check_number']


class GLEConfigError(ValueError):
    """A network or layer parameter is invalid (e.g. ``tau_r`` below ``dt``, unknown activation)."""


class GLEInputError(ValueError):
    """An input is invalid: a signal (wrong shape, NaN or inf, units), a state or a checkpoint file."""


class GLEDeviceError(RuntimeError):
    """A code-generation target is unknown or unavailable on this machine."""


class GLENumericalError(FloatingPointError):
    """A run produced NaN or inf: the message names the layer, the first bad step and the variables.

    Attributes ``layer`` (index), ``step`` (first bad step of the run, from 0), ``time`` (its time after
    the start of the run) and ``variables`` (names of the layer's variables that are not finite now).
    """

    def __init__(self, message, layer, step, time, variables):
        super().__init__(message)
        self.layer, self.step, self.time, self.variables = layer, step, time, variables


_KINDS = {second.dim: 'time', Hz.dim: 'frequency'}


def check_units(value, unit, name, example, error=GLEConfigError):
    """Raise ``error`` naming ``name`` unless ``value`` has the dimensions of ``unit``.

    Example::

        >>> check_units(0.01, second, 'dt', '0.01*ms')
        Traceback (most recent call last):
        ...
        gle_brian.errors.GLEConfigError: dt=0.01 must be a time, e.g. dt=0.01*ms.
    """
    try:
        fail_for_dimension_mismatch(value, unit)
    except DimensionMismatchError:
        raise error(f'{name}={value!r} must be a {_KINDS.get(unit.dim, unit)}, e.g. {name}={example}.') from None


def check_number(value, name, example, low=0.0, high=np.inf, error=GLEConfigError):
    """``value`` as a float; raise ``error`` naming ``name`` unless it is a real number in ``[low, high)``.

    NaN, inf, strings, complex numbers and quantities with units are refused. Example::

        >>> check_number('1e-3', 'lr', '1e-3')
        Traceback (most recent call last):
        ...
        gle_brian.errors.GLEConfigError: lr='1e-3' must be a finite number >= 0, e.g. lr=1e-3.
    """
    number = np.nan
    if np.ndim(value) == 0 and np.isrealobj(value) and getattr(value, 'is_dimensionless', True) \
            and not isinstance(value, (str, bytes)):
        try:
            number = float(value)
        except (TypeError, ValueError):
            pass
    if not (np.isfinite(number) and low <= number < high):
        bounds = f' in [{low:g}, {high:g})' if high < np.inf else f' >= {low:g}' if low > -np.inf else ''
        raise error(f'{name}={value!r} must be a finite number{bounds}, e.g. {name}={example}.')
    return number
