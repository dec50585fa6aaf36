"""Exceptions raised for bad input. Every message names the parameter at fault and the fix (the checks that
raise them: :mod:`gle_brian.checks`)."""

__all__ = ['GLEConfigError', 'GLEInputError', 'GLEOutputError', 'GLEDeviceError', 'GLENumericalError']


class GLEConfigError(ValueError):
    """A network or layer parameter is invalid (e.g. ``tau_r`` below ``dt``, unknown activation)."""


class GLEInputError(ValueError):
    """An input is invalid: a signal (wrong shape, NaN or inf, units), a state or a checkpoint file."""


class GLEOutputError(OSError):
    """A file or folder the package is to write cannot be written: a folder that is a file, read-only or cannot be
    made, a file path that is a folder (checked before the work whose results go there)."""


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
