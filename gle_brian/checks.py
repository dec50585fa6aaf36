"""Every check of what a user gives: numbers, units, sizes, signals, weight matrices, connections.

Each raises :class:`~gle_brian.errors.GLEConfigError` (how something is built) or
:class:`~gle_brian.errors.GLEInputError` (what a run is given) with a message that names the parameter at
fault and the fix. The objects and the network fronts call these, so a rule is written once.

Example::

    >>> check_signal(np.zeros(5), 'x', width=1, batch=1).shape
    (5, 1)
"""
import numpy as np
from brian2 import Hz, Quantity, TimedArray, second
from brian2.units.fundamentalunits import DimensionMismatchError, fail_for_dimension_mismatch

from .errors import GLEConfigError, GLEInputError

__all__ = ['check_units', 'check_number', 'check_dt', 'check_interval', 'check_size', 'real', 'check_signal',
           'check_matrices', 'check_matrix', 'check_connect', 'connections', 'check_signs', 'constrain',
           'constrain_weights', 'check_biases']

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


def check_dt(dt, name='dt'):
    """A positive, finite time as a Quantity."""
    check_units(dt, second, name, '0.01*ms')
    if not np.isscalar(float(dt)) or not float(dt) > 0 or not np.isfinite(float(dt)):
        raise GLEConfigError(f'{name}={dt!r} must be a positive, finite time.')
    return Quantity(float(dt), dim=second.dim)


def check_interval(interval, dt, name='dt'):
    """A recording interval: ``None`` (every step) or a whole multiple of ``dt``, as a Quantity.

    Brian2 monitors at other intervals would repeat samples (below ``dt``) or sample between steps.
    """
    if interval is None:
        return dt
    steps = float(check_dt(interval, name) / dt)
    if steps < 1 - 1e-9 or abs(steps - round(steps)) > 1e-9:
        raise GLEConfigError(f'{name}={interval} must be a whole multiple of the network step dt={dt}, '
                             f'e.g. {name}={max(1, round(steps)) * dt}.')
    return round(steps) * dt


def check_size(n, name):
    """A positive integer."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise GLEConfigError(f'{name}={n!r} must be a positive integer.')
    return int(n)


def real(values, name, error=GLEConfigError, copy=True):
    """``values`` as a float array (a copy, or with ``copy=False`` the array itself where it is one of floats);
    complex numbers (whose imaginary part would be dropped) are refused."""
    array = np.asarray(values)
    if array.dtype.kind == 'c':
        raise error(f'{name} is complex; rates and parameters are real numbers: pass {name}.real or '
                    f'abs({name}) explicitly.')
    if array.dtype.kind not in 'biuf':
        raise error(f'{name} has values of type {array.dtype}; give numbers.')
    return array.astype(float, copy=copy)


def check_signal(signal, name, width, batch, dt=None, steps=None):
    """An input or target as a float array of shape ``(steps, batch*width)``, with clear errors.

    Accepts ``(steps, batch, width)``, and ``(steps, width)`` or (width 1) ``(steps,)`` when batch is 1; a
    TimedArray (2-D, or 1-D: one channel) is sampled at ``steps`` steps of ``dt``; a signal read from a recording
    (:class:`gle_brian.io.Signal`) must have been resampled to ``dt``.
    """
    B = batch
    if isinstance(signal, TimedArray):
        times = np.arange(steps) * dt
        if signal.values.ndim == 1:
            if B * width != 1:
                raise GLEInputError(f'{name} is a 1-D TimedArray (one channel), but the network takes {B * width} '
                                    f'channels here; give a 2-D TimedArray of shape (steps, {B * width}).')
            signal = signal(times)[:, None, None]
        else:
            signal = np.column_stack([signal(times, np.full(steps, k)) for k in range(B * width)])
            signal = signal.reshape(steps, B, width)
    recorded_dt = getattr(signal, 'dt', None)             # a Signal of gle_brian.io carries its dt
    if recorded_dt is not None and dt is not None and not np.isclose(float(recorded_dt), float(dt), rtol=1e-9):
        raise GLEInputError(f'{name} was resampled to dt={float(recorded_dt) * 1e3:g} ms, but the network steps with '
                            f'dt={float(dt) * 1e3:g} ms; read it again with dt=net.dt.')
    if isinstance(signal, Quantity) and not signal.is_dimensionless:
        raise GLEInputError(f'{name} has units {signal.dim}; rates are dimensionless, pass plain numbers.')
    array = real(signal, name, GLEInputError, copy=False)     # (copying LagLine's input took 0.5 s)
    shape = array.shape
    if array.ndim == 1 and width == 1 and B == 1:
        array = array[:, None]
    if array.ndim == 2 and B == 1:
        array = array[:, None, :]
    if array.ndim != 3 or array.shape[1:] != (B, width):
        expected = f'(steps, {width})' if B == 1 else f'(steps, {B}, {width}) (steps, batch, channels)'
        raise GLEInputError(f'{name} has shape {shape}; expected {expected}, one row per time step.')
    if steps is not None and len(array) != steps:
        raise GLEInputError(f'{name} has {len(array)} steps, expected {steps}; give one row per step of x.')
    if len(array) == 0:
        raise GLEInputError(f'{name} has no time steps; give at least one row.')
    bad = ~np.isfinite(array)
    if bad.any():
        step, copy, channel = np.argwhere(bad)[0]
        where = f'step {step}, channel {channel}' + (f', batch element {copy}' if B > 1 else '')
        raise GLEInputError(f'{name} contains NaN or inf (first at {where}); '
                            'clean or interpolate the signal before running.')
    return np.ascontiguousarray(array.reshape(len(array), B * width))


def check_matrices(matrices, name, drawn, shapes, connectivity):
    """Per projection the initial values of ``name``: the given matrix (checked: its shape, real and finite;
    ``None``, or an entry ``None``: the ``drawn`` one), kept whole for an all-to-all projection and taken at the
    synapses (in their order) for the others (``connectivity`` entries ``(pre, post)``)."""
    if matrices is None:
        return drawn
    try:
        matrices = list(matrices)
    except TypeError:
        matrices = None
    if matrices is None or len(matrices) != len(shapes):
        raise GLEConfigError(f'{name} has {"no" if matrices is None else len(matrices)} matrices for '
                             f'{len(shapes)} projections; give a list with one per projection (in a layered '
                             'network, one per layer: the projection into it; None draws it).')
    return [drawn[l] if m is None else check_matrix(m, f'{name}[{l}]', shapes[l], connectivity[l])
            for l, m in enumerate(matrices)]


def check_matrix(values, name, shape, synapses=None, per_synapse=False):
    """One projection's initial values as floats: the ``(n_post, n_pre)`` matrix (``shape``), taken at the
    ``synapses`` ``(pre, post)`` when there are some, or (``per_synapse``) already one value per synapse; checked
    real and finite."""
    array = real(values, name)
    if per_synapse and synapses is not None and array.ndim == 1 and len(array) == len(synapses[0]):
        pass
    elif array.shape != shape:
        alternative = f' or ({len(synapses[0])},) (one per synapse)' if per_synapse and synapses is not None else ''
        raise GLEConfigError(f'{name} has shape {array.shape}, expected {shape} (n_post, n_pre){alternative}.')
    elif synapses is not None:
        pre, post = synapses
        array = array[post, pre]
    if not np.all(np.isfinite(array)):
        raise GLEConfigError(f'{name} contains NaN or inf; give finite values.')
    return array


def check_connect(connect, shapes, seed, describe):
    """Per projection ``None`` (all-to-all) or the ``(pre, post)`` index arrays of its synapses; ``describe(k)``
    names projection ``k`` in messages."""
    if connect is None:
        return [None] * len(shapes)
    if not isinstance(connect, (list, tuple)) or len(connect) != len(shapes):
        raise GLEConfigError(f'connect={connect!r}: give a list with one entry per projection ({len(shapes)}; '
                             "per layer in a layered network): None (all-to-all), a condition such as "
                             "'abs(i - j) < 3', or a dict of Brian2's Synapses.connect arguments such as dict(p=0.2).")
    resolved = []
    for l, entry in enumerate(connect):
        if entry is not None and not isinstance(entry, (str, dict)):
            raise GLEConfigError(f'connect[{l}]={entry!r}: give None, a condition string or a dict of Synapses.connect '
                                 'arguments, e.g. dict(p=0.2).')
        resolved.append(None if entry is None else connections(
            entry, shapes[l][1], shapes[l][0], None if seed is None else seed + 2 + l, f'connect[{l}]', describe(l)))
    return resolved


def connections(rule, n_pre, n_post, seed, name, where):
    """The ``(pre, post)`` synapses Brian2 makes from the connect ``rule`` (a condition string or a dict of
    ``Synapses.connect`` arguments; :func:`gle_brian.synapses.connectivity`), with clear errors naming ``name`` and
    the projection (``where``) when Brian2 cannot make them or makes none."""
    from .synapses import connectivity
    try:
        pre, post = connectivity(n_pre, n_post, rule, seed)
    except Exception as error:      # Brian2's errors for conditions and arguments it cannot use
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ''
        raise GLEConfigError(
            f'{name}={rule!r} ({where}): Brian2 cannot make these synapses '
            f'({type(error).__name__}: {reason}); use a condition in i (presynaptic) and j (postsynaptic), e.g. '
            "'abs(i - j) < 3', or dict(p=0.2), or dict(i=..., j=...) index arrays.") from None
    if len(pre) == 0:
        raise GLEConfigError(f'{name}={rule!r} ({where}) makes no synapses; loosen the '
                             'condition or raise p, or leave the projection out.')
    return pre, post


def check_signs(signs, n):
    """Per projection ``None``, ``+1`` or ``-1`` (``n`` projections)."""
    if signs is None:
        return [None] * n
    if not isinstance(signs, (list, tuple)) or len(signs) != n or any(sign not in (None, 1, -1) for sign in signs):
        raise GLEConfigError(f'signs={signs!r}: give one entry per projection ({n}; per layer in a '
                             'layered network), each None, +1 (its weights stay >= 0, excitatory) or -1 (<= 0, '
                             'inhibitory).')
    return [None if sign is None else int(sign) for sign in signs]


def constrain(weights, signs, drawn):
    """Initial weights with the sign of each constrained projection: drawn weights take it (``|W|`` or ``-|W|``),
    given ones must have it. ``drawn``: per projection whether its weights were drawn (``None``: all were)."""
    return [constrain_weights(w, sign, drawn is None or drawn[l], f'weights[{l}]', f'signs[{l}]')
            for l, (w, sign) in enumerate(zip(weights, signs))]


def constrain_weights(weights, sign, drawn, name='weights', sign_name='sign'):
    """One projection's initial weights with its ``sign`` (``None``, +1, -1): ``drawn`` weights take it (``|W|`` or
    ``-|W|``), given ones must have it."""
    if sign is not None and drawn:
        return sign * np.abs(weights)
    if sign is not None and np.any(sign * weights < 0):
        raise GLEConfigError(f'{name} has {int(np.sum(sign * weights < 0))} values of the wrong sign for '
                             f'{sign_name}={sign:+d}; give weights {">= 0" if sign > 0 else "<= 0"} there '
                             f'(e.g. {"" if sign > 0 else "-"}abs(w)), or drop the constraint.')
    return weights


def check_biases(biases, sizes):
    """Per layer (of ``sizes``) the initial biases, zeros where none are given."""
    if biases is None:
        return [np.zeros(size) for size in sizes]
    if len(biases) != len(sizes):
        raise GLEConfigError(f'biases has {len(biases)} entries for {len(sizes)} layers; give one per layer.')
    checked = []
    for l, (b, size) in enumerate(zip(biases, sizes)):
        b = np.zeros(size) if b is None else real(b, f'biases[{l}]')
        if b.size not in (1, size):
            raise GLEConfigError(f'biases[{l}] has {b.size} values for a layer of size {size}; give one '
                                 f'value or {size} (or None for zeros).')
        if not np.all(np.isfinite(b)):
            raise GLEConfigError(f'biases[{l}] contains NaN or inf; give finite values.')
        checked.append(np.broadcast_to(b.ravel(), (size,)).copy())
    return checked
