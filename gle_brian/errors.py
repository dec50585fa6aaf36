"""Exceptions raised for bad input. Every message names the parameter at fault and the fix."""

__all__ = ['GLEConfigError', 'GLEInputError', 'GLEDeviceError']


class GLEConfigError(ValueError):
    """A network or layer parameter is invalid (e.g. ``tau_r`` below ``dt``, unknown activation)."""


class GLEInputError(ValueError):
    """An input or target signal is invalid (wrong shape, NaN or inf, missing units)."""


class GLEDeviceError(RuntimeError):
    """A code-generation target is unknown or unavailable on this machine."""
