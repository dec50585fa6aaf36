"""Input signals for GLE experiments (GLE_MODEL.md, section 2.6).

All generators take times as Brian2 quantities and return plain float arrays with one row per time step
of ``dt``, ready for :meth:`gle_brian.GLENetwork.run`.

Example::

    >>> from brian2 import ms
    >>> from gle_brian.data import smoothed_steps
    >>> x = smoothed_steps(100*ms, dt=0.01*ms, batch=1, seed=0)      # shape (10000, 1), values in [-1, 1]
"""
import numpy as np
from brian2 import Quantity, second
from brian2.units.fundamentalunits import DimensionMismatchError, fail_for_dimension_mismatch
from scipy.ndimage import gaussian_filter1d

from .errors import GLEInputError

__all__ = ['smoothed_steps', 'sines']


def _steps(duration, dt, name='duration'):
    for label, value in ((name, duration), ('dt', dt)):
        try:
            fail_for_dimension_mismatch(value, second)
        except DimensionMismatchError:
            raise GLEInputError(f'{label}={value!r} must be a time, e.g. {label}=10*ms.') from None
        if not float(value) > 0:
            raise GLEInputError(f'{label}={value!r} must be positive.')
    return int(round(float(duration / dt)))


def smoothed_steps(duration, dt, batch=1, width=None, period=None, sigma_steps=5, seed=None):
    """The LagLine input: a smoothed square wave between -1 and +1, one random phase per batch row.

    Blocks of +1 of length ``width`` (default 2 time units of 1 ms, i.e. ``200*dt`` at ``dt = 0.01*ms``)
    start at ``floor(linspace(0, N, N // period_steps + 1))`` (``period`` default 4 ms) on a baseline of
    -1; each row is shifted by a random number of steps in ``[0, width)``, and the signal is smoothed with
    a Gaussian of ``sigma_steps`` steps (``scipy.ndimage.gaussian_filter1d``).

    Returns an array of shape ``(steps, batch)``.
    """
    steps = _steps(duration, dt)
    width_steps = _steps(2e-3 * second if width is None else width, dt, 'width')
    period_steps = float((4e-3 * second if period is None else period) / dt)
    if not 0 < width_steps < period_steps <= steps:
        raise GLEInputError(f'width={width} and period={period}: need 0 < width < period <= duration.')
    signal = -np.ones(steps)
    for start in np.floor(np.linspace(0, steps, int(steps / period_steps) + 1)).astype(int):
        signal[start:start + width_steps] = 1.0
    shifts = np.random.default_rng(seed).integers(0, width_steps, batch)
    rows = np.stack([np.roll(signal, shift) for shift in shifts], axis=1)
    return gaussian_filter1d(rows, sigma_steps, axis=0)


def sines(duration, dt, frequencies, amplitudes=None, phases=None):
    """A sum of sines ``sum_k a_k sin(w_k t + p_k)``; ``frequencies`` are angular (Quantity, e.g. 0.49/ms).

    Returns an array of shape ``(steps, 1)`` (LagNet: ``w = (0.49, 1.07, 1.98)/ms``).
    """
    steps = _steps(duration, dt)
    t = np.arange(steps) * float(dt)
    omega = np.atleast_1d(np.asarray(frequencies * second, dtype=float)) if isinstance(frequencies, Quantity) \
        else None
    if omega is None:
        raise GLEInputError(f'frequencies={frequencies!r} must be angular frequencies with units, e.g. [0.49]/ms.')
    amplitudes = np.ones_like(omega) if amplitudes is None else np.broadcast_to(amplitudes, omega.shape)
    phases = np.zeros_like(omega) if phases is None else np.broadcast_to(phases, omega.shape)
    return (amplitudes * np.sin(np.outer(t, omega) + phases)).sum(axis=1, keepdims=True)
