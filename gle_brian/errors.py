"""Exceptions raised for bad input. Every message names the parameter at fault and the fix."""
from brian2 import Hz, second
from brian2.units.fundamentalunits import DimensionMismatchError, fail_for_dimension_mismatch

__all__ = ['GLEConfigError', 'GLEInputError', 'GLEDeviceError', 'check_units']


class GLEConfigError(ValueError):
    """A network or layer parameter is invalid (e.g. ``tau_r`` below ``dt``, unknown activation)."""


class GLEInputError(ValueError):
    """An input is invalid: a signal (wrong shape, NaN or inf, units), a state or a checkpoint file."""


class GLEDeviceError(RuntimeError):
    """A code-generation target is unknown or unavailable on this machine."""


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
