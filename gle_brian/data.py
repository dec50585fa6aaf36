"""Input signals and data sets for GLE experiments.

See docs/model.rst, sections 'Input signals' and 'MNIST-1D end to end'.

The generators take times as Brian2 quantities and return plain float arrays with one row per time step
of ``dt``, ready for :meth:`gle_brian.GLENetwork.run`. Classification data sets are
:class:`TimeSeriesData` (one time series per sample, one label each), used by :mod:`gle_brian.training`.

Example::

    >>> from brian2 import ms
    >>> from gle_brian.data import smoothed_steps, mnist1d
    >>> x = smoothed_steps(100*ms, dt=0.01*ms, batch=1, seed=0)      # shape (10000, 1), values in [-1, 1]
    >>> train, test = mnist1d()                                        # doctest: +SKIP
"""
import numpy as np
from brian2 import Hz, second
from scipy.ndimage import gaussian_filter1d

from .checks import check_units
from .errors import GLEInputError

__all__ = ['smoothed_steps', 'sines', 'TimeSeriesData', 'mnist1d']


def _steps(duration, dt, name='duration'):
    for label, value in ((name, duration), ('dt', dt)):
        check_units(value, second, label, '10*ms', GLEInputError)
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
    filtered = gaussian_filter1d(signal, sigma_steps)
    return np.stack([_shifted_filtered(signal, filtered, shift, sigma_steps) for shift in shifts]).T


def _shifted_filtered(signal, filtered, shift, sigma_steps):
    """``gaussian_filter1d(np.roll(signal, shift), sigma_steps)`` bit for bit, from ``filtered`` (the filtered
    ``signal``): the filter computes every point from its window alike, so the result is ``filtered`` rolled, except
    where a window meets an end of the signal or the seam of the roll (mirrored ends), which are filtered again."""
    steps, radius = len(signal), int(4.0 * sigma_steps + 0.5)          # scipy's window: truncate = 4 sigmas
    rolled, row = np.roll(signal, shift), np.roll(filtered, shift)
    for start, end in ((0, radius), (shift - radius, shift + radius), (steps - radius, steps)):
        start, end = max(start, 0), min(end, steps)
        if start < end:
            low, high = max(start - radius, 0), min(end + radius, steps)
            row[start:end] = gaussian_filter1d(rolled[low:high], sigma_steps)[start - low:end - low]
    return row


def sines(duration, dt, frequencies, amplitudes=None, phases=None):
    """A sum of sines ``sum_k a_k sin(2 pi f_k t + p_k)``, shape ``(steps, 1)``.

    ``frequencies`` are in Hz (a Quantity, e.g. ``[78]*Hz`` or ``[0.078]*kHz``), as everywhere in the
    package; ``phases`` are in radians. An angular frequency ``w`` is ``f = w/(2 pi)``: ``1/ms`` has the
    dimensions of ``Hz``, so ``0.49/ms`` would be read as 490 Hz, not 0.49 rad/ms.

    Example::

        >>> x = sines(1000*ms, 0.01*ms, np.array([0.49, 1.07, 1.98]) / (2*np.pi) * kHz)   # doctest: +SKIP
    """
    steps = _steps(duration, dt)
    check_units(frequencies, Hz, 'frequencies', '[78]*Hz', GLEInputError)
    t = np.arange(steps) * float(dt)
    omega = 2 * np.pi * np.atleast_1d(np.asarray(frequencies / Hz, dtype=float))
    amplitudes = np.ones_like(omega) if amplitudes is None else np.broadcast_to(amplitudes, omega.shape)
    phases = np.zeros_like(omega) if phases is None else np.broadcast_to(phases, omega.shape)
    return (amplitudes * np.sin(np.outer(t, omega) + phases)).sum(axis=1, keepdims=True)


class TimeSeriesData:
    """A labelled set of time series: ``x`` of shape ``(samples, steps, channels)``, integer labels ``y``.

    Every sample has the same number of steps (one step of the network's ``dt`` each). For your own data,
    build one from arrays, or subclass and override :meth:`batch` (e.g. to generate samples on the fly)
    keeping ``len()``, ``steps``, ``channels`` and ``classes``.

    Example::

        >>> data = TimeSeriesData(np.random.rand(50, 100, 2), np.arange(50) % 3)   # 3 classes
        >>> x, y = data.batch([0, 1])                      # x: (100, 2, 2) (steps, batch, channels)
    """

    def __init__(self, x, y, classes=None):
        x = np.asarray(x, dtype=float)
        x = x[:, :, None] if x.ndim == 2 else x
        y = np.asarray(y)
        if x.ndim != 3:
            raise GLEInputError(f'x has shape {x.shape}; expected (samples, steps, channels).')
        if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer) or (len(y) and y.min() < 0):
            raise GLEInputError(f'y has shape {y.shape} and dtype {y.dtype}; expected {len(x)} non-negative '
                                'integer labels, one per sample.')
        if not np.all(np.isfinite(x)):
            raise GLEInputError('x contains NaN or inf; clean or interpolate the series first.')
        self.x, self.y = x, y
        self.classes = int(y.max()) + 1 if classes is None else int(classes)
        if len(y) and y.max() >= self.classes:
            raise GLEInputError(f'classes={classes} but y has the label {y.max()}; give classes > every label.')

    def __len__(self):
        return len(self.y)

    @property
    def steps(self):
        """Time steps per sample."""
        return self.x.shape[1]

    @property
    def channels(self):
        """Input channels per step."""
        return self.x.shape[2]

    def batch(self, indices):
        """Samples ``indices`` side by side: ``x`` of shape ``(steps, len(indices), channels)`` and labels."""
        indices = np.asarray(indices)
        return self.x[indices].transpose(1, 0, 2), self.y[indices]


def mnist1d(final_seq_length=360, seed=42):
    """MNIST-1D (Greydanus 2020) made procedurally by the ``mnist1d`` package: 4000 train, 1000 test samples.

    The package's default arguments with ``final_seq_length`` steps per sample (one input channel) and
    the data-set ``seed``; nothing is downloaded. Returns ``(train, test)`` as :class:`TimeSeriesData`.
    """
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise GLEInputError('mnist1d() needs the mnist1d package: pip install mnist1d') from None
    args = get_dataset_args()
    args.final_seq_length, args.seed = int(final_seq_length), int(seed)
    data = make_dataset(args)
    return (TimeSeriesData(data['x'], data['y'], classes=10),
            TimeSeriesData(data['x_test'], data['y_test'], classes=10))
