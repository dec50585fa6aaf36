"""Recordings in and out: NWB and Neo signals and plain arrays in, resampled to a network's ``dt`` and scaled to
model units; traces and spikes out, as NWB files that the NWB inspector passes (:func:`to_nwb`).

Electrophysiology arrives sampled at its own rate (1-30 kHz), with units. Each reader returns a :class:`Signal`:
one row per step of ``dt``, one column per selected channel, dimensionless, which a network takes directly as
input or target (``net.run(signal)``, ``net.run(x, target=signal)``), or as a Brian2 ``TimedArray``
(:meth:`Signal.timed_array`) in a script of your own.

* :func:`read_nwb`: a ``TimeSeries`` of an NWB file found by name (in ``acquisition``, ``stimulus`` or a processing
  module), honouring ``rate`` or ``timestamps``, ``starting_time``, ``unit``, ``conversion`` and ``offset``;
* :func:`from_neo`: a Neo ``AnalogSignal`` (or ``IrregularlySampledSignal``);
* :func:`from_array`: samples with ``rate=`` or ``timestamps=``.

Resampling: regular samples are resampled by the rational ratio of the two rates with polyphase filtering
(``scipy.signal.resample_poly``, whose FIR filter removes what the new rate cannot hold) and read on the grid
``0, dt, 2 dt, ...`` from the first sample (row 0 is the first sample's time, :attr:`Signal.start`); irregular
timestamps are first interpolated linearly onto a regular grid of their median interval. A ``dt`` coarser than
the recording's interval discards frequencies, so it must be asked for (``downsample=True``).

Scale: a physical value ``p`` (for NWB ``data*conversion + offset``, in the series' ``unit``) becomes the model
value ``(p - offset)/scale`` per channel: with ``scale='zscore'`` (the default) ``offset`` and ``scale`` are the
channel's mean and standard deviation over the selected samples; with a number (in the recording's unit) or a
Brian2 Quantity (``scale=10*mV``: 10 mV is one model unit) the offset is 0. :meth:`Signal.to_physical` maps model
values back. Example::

    >>> from brian2 import ms, mV
    >>> from gle_brian.io import read_nwb
    >>> target = read_nwb('session.nwb', 'membrane_potential', dt=0.1*ms, scale=10*mV)   # doctest: +SKIP
    >>> net.run(x, target=target)                                                        # doctest: +SKIP
"""
import dataclasses
import datetime
import json
import os
import uuid
from fractions import Fraction

import numpy as np
from brian2 import Hz, Quantity, TimedArray, get_unit, second
from brian2.units import allunits

from .checks import check_dt
from .errors import GLEInputError
from .recording import DESCRIPTIONS
from .results import atomic_path

__all__ = ['Signal', 'read_nwb', 'from_neo', 'from_array', 'physical_unit', 'to_nwb', 'SIMULATION_SUBJECT']

#: the unit names of NWB (and other) files that Brian2 spells otherwise
UNIT_NAMES = {'volts': 'volt', 'amperes': 'amp', 'ampere': 'amp', 'seconds': 'second', 'hertz': 'Hz',
              'ohms': 'ohm', 'metres': 'metre', 'meters': 'metre'}
#: unit symbols after a metric prefix (``uV``, ``pA``, ``nS``, ``MOhm``)
SYMBOLS = {'V': 'volt', 'A': 'amp', 'S': 'siemens', 'Ohm': 'ohm', 'Hz': 'hertz', 's': 'second', 'm': 'metre'}


def physical_unit(text):
    """The Brian2 unit of a unit's name (``'volts'``, ``'mV'``, ``'uV'``, ``'µV'``, ``'pA'``), or ``None``.

        >>> physical_unit('volts'), physical_unit('uV'), physical_unit('a.u.')
        (volt, uvolt, None)
    """
    text = UNIT_NAMES.get(str(text).strip(), str(text).strip()).replace('µ', 'u').replace('μ', 'u')
    candidates = [text] + [text[:-len(symbol)] + name for symbol, name in SYMBOLS.items()
                           if text.endswith(symbol) and len(text) - len(symbol) <= 1]
    for name in candidates:
        unit = getattr(allunits, name, None)
        if isinstance(unit, Quantity):
            return unit
    return None


@dataclasses.dataclass
class Signal:
    """A recording resampled to ``dt`` and scaled to model units: ``values`` ``(steps, channels)``.

    ``start``: the time of row 0 in the recording (Quantity); ``unit``: the recording's unit (text);
    ``offset`` and ``scale``: per channel, in that unit (model = (physical - offset)/scale); ``source``: where it
    came from. It behaves as its array (``np.asarray(signal)``, ``len(signal)``, ``signal[:100]``).
    """
    values: np.ndarray
    dt: Quantity
    start: Quantity
    unit: str
    offset: np.ndarray
    scale: np.ndarray
    source: str

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)

    def __len__(self):
        return len(self.values)

    def __getitem__(self, index):
        return self.values[index]

    @property
    def shape(self):
        return self.values.shape

    @property
    def times(self):
        """The recording's time of every row (Quantity)."""
        return self.start + np.arange(len(self.values)) * self.dt

    @property
    def duration(self):
        return len(self.values) * self.dt

    def timed_array(self, name=None):
        """The values as a Brian2 ``TimedArray`` of ``dt`` (``name(t, i)`` in equations; one channel:
        ``name(t)``)."""
        values = self.values[:, 0] if self.values.shape[1] == 1 else self.values
        return TimedArray(values, dt=self.dt, name=name)

    def to_physical(self, values):
        """Model values (e.g. a network's output, ``(steps, channels)``) in the recording's unit (a Quantity where
        Brian2 knows the unit)."""
        physical = np.asarray(values, dtype=float) * self.scale + self.offset
        unit = physical_unit(self.unit)
        return physical if unit is None else physical * unit


def from_array(values, dt, rate=None, timestamps=None, starting_time=0 * second, unit='a.u.', channels=None,
               scale='zscore', downsample=False, source='array'):
    """A :class:`Signal` from samples ``values`` ``(samples, channels)`` or ``(samples,)`` in ``unit``, taken at
    ``rate`` (Hz, a Quantity or a number) from ``starting_time``, or at ``timestamps`` (seconds, increasing).

    ``channels``: the columns to keep (an index, a list or a slice; all by default). See the module's text for
    ``scale`` and ``downsample``."""
    dt = check_dt(dt, 'dt')
    data = np.asarray(values)
    if data.dtype.kind not in 'biuf':
        raise GLEInputError(f'the samples of {source} have values of type {data.dtype}; give numbers.')
    data = data.astype(float)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2:
        raise GLEInputError(f'the samples of {source} have shape {data.shape}; expected (samples, channels), time '
                            'along the first axis.')
    if channels is not None:
        try:
            data = data[:, np.atleast_1d(np.arange(data.shape[1])[channels])]
        except IndexError:
            raise GLEInputError(f'channels={channels!r} is not a selection of the {data.shape[1]} channels of '
                                f'{source}; give indices below {data.shape[1]}.') from None
    if data.size == 0:
        raise GLEInputError(f'the selection of {source} is empty ({data.shape[0]} samples, {data.shape[1]} channels); '
                            'select at least one channel of a recording with samples.')
    bad = ~np.isfinite(data)
    if bad.any():
        sample, channel = np.argwhere(bad)[0]
        raise GLEInputError(f'{source} contains NaN or inf (first at sample {sample}, channel {channel}); clean or '
                            'interpolate the recording, or select other channels.')
    start, interval, data = _regular(data, rate, timestamps, starting_time, source)
    if float(dt) > interval * (1 + 1e-9) and not downsample:
        raise GLEInputError(f'dt={dt} is coarser than the sampling interval of {source} ({interval * 1e3:g} ms, '
                            f'{1 / interval:g} Hz): resampling discards frequencies above {0.5 / float(dt):g} Hz. Give '
                            'downsample=True to do so (low-pass filtered), or a finer dt.')
    data = _resample(data, interval, float(dt))
    offset, scale = _scale(data, scale, unit, source)
    return Signal((data - offset) / scale, dt, start * second, str(unit), offset, scale, source)


def _regular(data, rate, timestamps, starting_time, source):
    """``(start, interval, samples)``: the samples on a regular grid (irregular timestamps interpolated linearly
    onto a grid of their median interval), times in seconds."""
    if (rate is None) == (timestamps is None):
        raise GLEInputError(f'{source} has ' + ('neither a rate nor timestamps' if rate is None else 'both a rate and '
                            'timestamps') + '; give one: rate=... (Hz) for regular samples, timestamps=... (s).')
    if rate is not None:
        rate = float(rate / Hz) if isinstance(rate, Quantity) else float(rate)
        if not np.isfinite(rate) or rate <= 0:
            raise GLEInputError(f'the rate of {source} is {rate} Hz; give a positive sampling rate.')
        start = float(starting_time / second) if isinstance(starting_time, Quantity) else float(starting_time)
        return start, 1 / rate, data
    times = np.asarray(timestamps / second if isinstance(timestamps, Quantity) else timestamps, dtype=float)
    if times.shape != (len(data),):
        raise GLEInputError(f'{source} has {len(data)} samples but {times.size} timestamps; give one per sample.')
    steps = np.diff(times)
    if not np.isfinite(times).all() or (steps <= 0).any():
        where = int(np.argmax(~(steps > 0))) + 1 if len(steps) else 0
        raise GLEInputError(f'the timestamps of {source} are not increasing (first at sample {where}); sort the '
                            'samples by time and drop repeated times.')
    if len(times) < 2:
        raise GLEInputError(f'{source} has {len(times)} sample; a recording needs at least two.')
    interval = float(np.median(steps))
    grid = times[0] + np.arange(int(np.floor((times[-1] - times[0]) / interval + 1e-9)) + 1) * interval
    return times[0], interval, np.column_stack([np.interp(grid, times, column) for column in data.T])


def _resample(data, interval, dt):
    """Regular samples of ``interval`` (s) at the grid ``0, dt, ...`` (s) from the first sample, up to the last."""
    from scipy.signal import resample_poly
    steps = int(np.floor((len(data) - 1) * interval / dt + 1e-9)) + 1
    ratio = Fraction(interval / dt).limit_denominator(10_000)       # new samples per old one
    if ratio != 1:
        data = resample_poly(data, ratio.numerator, ratio.denominator, axis=0, padtype='line')
    new_interval = interval / float(ratio)
    if np.isclose(new_interval, dt, rtol=1e-12, atol=0):
        return np.ascontiguousarray(data[:steps])
    grid, times = np.arange(steps) * dt, np.arange(len(data)) * new_interval
    return np.column_stack([np.interp(grid, times, column) for column in data.T])


def _scale(data, scale, unit, source):
    """``(offset, scale)`` per channel, in ``unit``."""
    channels = data.shape[1]
    if isinstance(scale, str) and scale == 'zscore':
        offset, spread = data.mean(axis=0), data.std(axis=0)
        flat = np.flatnonzero(spread == 0)
        if flat.size:
            raise GLEInputError(f'channel {flat[0]} of {source} is constant: z-scoring divides by its standard '
                                f'deviation, 0. Give scale=... (in {unit}, or a Quantity), or select other channels.')
        return offset, spread
    if isinstance(scale, Quantity):
        known = physical_unit(unit)
        if known is None or known.dim != scale.dim:
            raise GLEInputError(f'scale={scale!r} cannot be applied to {source}, whose unit is {unit!r}; give the '
                                f'scale as a number in {unit}, or scale=\'zscore\'.')
        scale = float(scale / known)
    try:
        scale = np.broadcast_to(np.asarray(scale, dtype=float), (channels,)).copy()
    except (TypeError, ValueError):
        raise GLEInputError(f"scale={scale!r}: give 'zscore', a number or a Quantity (one, or one per "
                            f'channel: {channels}).') from None
    if not np.isfinite(scale).all() or (scale == 0).any():
        raise GLEInputError(f'scale={scale!r} has a zero or non-finite value; give the size of one model unit.')
    return np.zeros(channels), scale


def read_nwb(path, name, dt, channels=None, scale='zscore', downsample=False):
    """The ``TimeSeries`` ``name`` of the NWB file ``path`` as a :class:`Signal` of ``dt``.

    ``name`` is found in ``acquisition``, ``stimulus`` and every processing module (``'module/name'`` picks one
    module's); its ``data`` (time along the first axis) times ``conversion`` plus ``offset`` are the values in its
    ``unit``, taken at ``rate`` from ``starting_time`` or at ``timestamps``. Needs ``pynwb`` (``pip install
    'gle-brian[nwb]'``)."""
    try:
        from pynwb import NWBHDF5IO
    except ImportError:
        raise ImportError("read_nwb needs pynwb: install it with pip install 'gle-brian[nwb]'.") from None
    if not os.path.isfile(path):
        raise GLEInputError(f'path={str(path)!r}: no such file; give the path of an NWB file.')
    try:
        io = NWBHDF5IO(str(path), 'r')
        nwbfile = io.read()
    except Exception as error:          # h5py and hdmf raise many kinds for a file that is not NWB
        raise GLEInputError(f'{path} is not a readable NWB file ({type(error).__name__}: {error}).') from None
    with io:
        places = {'acquisition': nwbfile.acquisition, 'stimulus': nwbfile.stimulus,
                  **{module: nwbfile.processing[module].data_interfaces for module in nwbfile.processing}}
        found = [(place, series) for place, items in places.items() for key, series in items.items()
                 if name in (key, f'{place}/{key}') and hasattr(series, 'data') and hasattr(series, 'unit')]
        if not found:
            available = [f'{place}/{key}' for place, items in places.items() for key, series in items.items()
                         if hasattr(series, 'data') and hasattr(series, 'unit')]
            raise GLEInputError(f'{path} has no TimeSeries {name!r}; it has {available or "none"}.')
        if len(found) > 1:
            raise GLEInputError(f'{path} has a TimeSeries {name!r} in ' + ', '.join(p for p, _ in found)
                                + f'; give one of {[f"{p}/{name}" for p, _ in found]}.')
        place, series = found[0]
        data = np.asarray(series.data[:], dtype=float) * series.conversion + getattr(series, 'offset', 0.0)
        timestamps = None if series.timestamps is None else np.asarray(series.timestamps[:], dtype=float)
        return from_array(data, dt, rate=series.rate, timestamps=timestamps,
                          starting_time=(series.starting_time or 0.0) * second, unit=series.unit, channels=channels,
                          scale=scale, downsample=downsample, source=f'{path}:{place}/{series.name}')


def from_neo(signal, dt, channels=None, scale='zscore', downsample=False):
    """A Neo ``AnalogSignal`` (regular, ``sampling_rate`` and ``t_start``) or ``IrregularlySampledSignal``
    (``times``) as a :class:`Signal` of ``dt``, in the signal's units."""
    name = f"the Neo signal {getattr(signal, 'name', None) or type(signal).__name__}"
    if not hasattr(signal, 'magnitude') or not hasattr(signal, 'units'):
        raise GLEInputError(f'{type(signal).__name__} is not a Neo signal; give an AnalogSignal or '
                            'IrregularlySampledSignal (or use from_array).')
    unit = signal.units.dimensionality.string
    if hasattr(signal, 'sampling_rate'):
        return from_array(signal.magnitude, dt, rate=float(signal.sampling_rate.rescale('Hz').magnitude),
                          starting_time=float(signal.t_start.rescale('s').magnitude) * second, unit=unit,
                          channels=channels, scale=scale, downsample=downsample, source=name)
    return from_array(signal.magnitude, dt, timestamps=signal.times.rescale('s').magnitude, unit=unit,
                      channels=channels, scale=scale, downsample=downsample, source=name)


#: the subject of a simulation's NWB file when none is given (NWB asks for one; a simulation has no animal): the
#: species is NCBI Taxonomy's "synthetic construct" (taxon 32630), the sex unknown, and the date of birth the start
#: of the session (the network was made for it)
SIMULATION_SUBJECT = dict(subject_id='simulation', species='http://purl.obolibrary.org/obo/NCBITaxon_32630', sex='U',
                          description='No subject: a simulated GLE rate network (gle-brian, Brian2). For model output '
                                      'aligned to a recording, give that recording\'s subject.')


def to_nwb(recording, path, session_description='GLE network simulation', identifier=None, session_start_time=None,
           spikes=None, subject=None, **metadata):
    """Write a :class:`~gle_brian.recording.Recording` (and spike trains) to the NWB file ``path``, atomically.

    * Each recorded variable of each layer is a ``TimeSeries`` in ``acquisition``, ``'{variable}_layer{l}'``
      (``'{variable}_{population}'`` for a :class:`~gle_brian.graph.GLEGraph`), time along the first axis,
      ``rate`` and ``starting_time``, its unit (``'a.u.'`` for the dimensionless model variables), its resolution
      (the spacing of floating-point numbers at the largest value) and a description; the recorded neuron
      indices are in its ``comments`` (JSON).
    * ``spikes``: ``{layer: (t, i, trains)}`` from :func:`~gle_brian.recording.poisson_spikes` of
      ``recording['r', layer]`` (``trains``: neurons x trials; without it, up to the last trial with a spike);
      every spike train is a unit of the ``units`` table, with columns ``population``, ``neuron`` (index in its
      layer) and ``trial``, also when it has no spike; spike times in seconds from the first sample, ascending.
    * The model's parameters are in the processing module ``'gle_model'``: a table ``'network'`` (dt, beta, loss,
      feedback, sizes, device) and a table ``'neurons'`` (layer, index, activation, tau_m, tau_r, gamma, bias,
      error mode), and in ``experiment_description``.
    * ``subject``: a ``pynwb.file.Subject`` or a dict of its fields; without one the file gets
      :data:`SIMULATION_SUBJECT` (``subject_id='simulation'``, the species NCBI Taxonomy's "synthetic construct",
      sex unknown, born at the session's start), which the NWB inspector accepts; for a file that goes next to a
      recording (e.g. on the DANDI archive), give the subject of that recording.
      ``metadata``: more fields of ``pynwb.NWBFile`` (``experimenter``, ``institution``, ``lab``, ``session_id``,
      ``keywords``, ...).

    The written file passes ``nwbinspector`` with no critical issue and no best-practice violation (tested).
    Needs ``pynwb`` (``pip install 'gle-brian[nwb]'``). Example::

        >>> t, i = poisson_spikes(rec['r', 1], rec.dt, trials=10, seed=0)                    # doctest: +SKIP
        >>> to_nwb(rec, 'run.nwb', spikes={1: (t, i, 10)}, experimenter=['Doe, Jane'])     # doctest: +SKIP
    """
    try:
        from hdmf.common import DynamicTable, VectorData
        from pynwb import NWBFile, TimeSeries
        from pynwb.file import Subject
        from pynwb.misc import Units
    except ImportError:
        raise ImportError("to_nwb needs pynwb: install it with pip install 'gle-brian[nwb]'.") from None
    net = recording.net
    names = getattr(net, 'population_names', None)      # a GLEGraph's populations go by name
    label = [f'layer{l}' if names is None else names[l] for l in range(len(net.layers))]
    session_start_time = session_start_time or datetime.datetime.now(datetime.timezone.utc)
    if subject is None or isinstance(subject, dict):
        try:
            subject = Subject(**(dict(SIMULATION_SUBJECT, date_of_birth=session_start_time) if subject is None
                                 else subject))
        except (TypeError, ValueError) as error:
            raise GLEInputError(f'subject={subject!r} is not a valid NWB subject ({error}); give the fields of '
                                'pynwb.file.Subject, e.g. dict(subject_id=..., species=..., sex=..., age=...).'
                                ) from None
    sizes = [layer.size for layer in net.layers]
    fields = dict(keywords=['GLE', 'generalized latent equilibrium', 'simulation', 'Brian2'],
                  experiment_description=f'{type(net).__name__} of layer sizes {net.sizes} (input first), dt '
                                         f'{float(net.dt) * 1e3:g} ms, loss {net.loss}, feedback {net.feedback}, '
                                         f'simulated with Brian2 on {net.device}.', **metadata)
    try:
        nwbfile = NWBFile(session_description=session_description, identifier=identifier or str(uuid.uuid4()),
                          session_start_time=session_start_time,
                          notes='Generalized Latent Equilibrium (GLE) rate network simulated with Brian2 (gle-brian).',
                          subject=subject, **fields)
    except (TypeError, ValueError) as error:
        raise GLEInputError(f'the NWB metadata {sorted(metadata)} cannot be used ({error}); give fields of '
                            'pynwb.NWBFile such as experimenter, institution, lab, session_id.') from None
    start, rate = float(recording.t[0]) if len(recording.t) else 0.0, float(1 / recording.dt)
    for (variable, layer), values in recording.items():
        data = np.asarray(values)
        where = {'layer': layer} if names is None else {'layer': layer, 'population': names[layer]}
        nwbfile.add_acquisition(TimeSeries(
            name=f'{variable}_{label[layer]}', data=data,
            unit='a.u.' if values.is_dimensionless else str(get_unit(values.dim)),
            resolution=float(np.spacing(np.abs(data).max(initial=1.0))), starting_time=start, rate=rate,
            description=f'{DESCRIPTIONS.get(variable, variable)}; '
                        + (f'layer {layer}' if names is None else f'population {names[layer]}')
                        + ('; dimensionless model units' if values.is_dimensionless else ''),
            comments=json.dumps({**where, 'neurons': recording.neurons[layer].tolist()}), continuity='continuous'))
    if spikes:
        nwbfile.units = _units(Units, recording, spikes, label, start)

    def table(name, description, columns):
        return DynamicTable(name=name, description=description,
                            columns=[VectorData(name=key, description=text, data=list(data))
                                     for key, (text, data) in columns.items()])

    def per_neuron(values):           # one value or array per layer -> one entry per neuron
        return np.concatenate([np.broadcast_to(v, (n,)) for v, n in zip(values, sizes)])

    module = nwbfile.create_processing_module('gle_model', 'Parameters of the simulated GLE network')
    module.add(table('network', 'network parameters', {
        'form': ('GLENetwork (compact) or MicrocircuitNetwork', [type(net).__name__]),
        'dt': ('time step of the Euler scheme (s)', [float(net.dt)]),
        'n_in': ('number of input channels', [net.n_in]),
        'sizes': ('layer sizes, input first (JSON)', [json.dumps(net.sizes)]),
        'loss': ('output error', [str(net.loss)]),
        'beta': ('output error strength', [net.beta]),
        'feedback': ('feedback weights: symmetric or random', [net.feedback]),
        'device': ('Brian2 code-generation target', [net.device])}))
    module.add(table('neurons', 'one row per neuron, parameters at construction', {
        'layer': ('layer index (0 = first hidden layer)', per_neuron(range(len(sizes)))),
        'index': ('neuron index in its layer', np.concatenate([np.arange(n) for n in sizes])),
        'activation': ('rate function phi', per_neuron([a.name for a in net.activations])),
        'tau_m': ('membrane time constant (s)', per_neuron([tau_m for tau_m, _ in net.time_constants])),
        'tau_r': ('prospective time constant (s)', per_neuron([tau_r for _, tau_r in net.time_constants])),
        'gamma': ('nudging strength', per_neuron([float(layer.gamma) for layer in net.layers])),
        'bias': ('initial bias b', per_neuron(net.initial_biases)),
        'prospective_errors': ('GLE errors (True) or instantaneous errors (False)',
                               per_neuron([layer.prospective_errors for layer in net.layers]))}))
    return _write_nwb(nwbfile, path)


def _units(Units, recording, spikes, label, start):
    """The ``units`` table: one unit per spike train of ``spikes`` (``{layer: (t, i)}``)."""
    units = Units(name='units', description='Poisson spike trains drawn from the rates r of the recorded neurons '
                                            '(gle_brian.recording.poisson_spikes)', resolution=float(recording.dt))
    for name, text in (('population', 'layer or population of the neuron whose rate the train was drawn from'),
                       ('neuron', 'index of that neuron in its layer'), ('trial', 'independent draw of that neuron')):
        units.add_column(name, text)
    for layer, entry in spikes.items():
        layer = recording.net.check_layer(layer)
        neurons = recording.neurons.get(layer)
        if neurons is None:
            raise GLEInputError(f'spikes[{layer}]: layer {layer} was not recorded; draw the spikes from a recorded '
                                f'layer ({recording.layers}).')
        t, i = np.asarray(entry[0] / second if isinstance(entry[0], Quantity) else entry[0], dtype=float), \
            np.asarray(entry[1], dtype=int)
        n = len(neurons)
        trains = int(entry[2]) if len(entry) == 3 else n * -(-(int(i.max(initial=-1)) + 1) // n)
        if t.shape != i.shape or (i < 0).any() or (i >= trains).any():
            raise GLEInputError(f'spikes[{layer}] must be (t, i) or (t, i, trains) as poisson_spikes draws them: '
                                'times and train indices of the same length (below trains).')
        for train in range(trains):
            times = np.sort(t[i == train]) + start
            units.add_unit(spike_times=times, population=label[layer], neuron=int(neurons[train % len(neurons)]),
                           trial=train // len(neurons))
    return units


def _write_nwb(nwbfile, path):
    from pynwb import NWBHDF5IO
    try:
        with atomic_path(str(path)) as temporary, NWBHDF5IO(temporary, 'w') as io:   # an existing file stays whole
            io.write(nwbfile)
    except OSError as error:
        raise GLEInputError(f'path={str(path)!r}: the NWB file cannot be written there ({error.strerror or error}); '
                            'give a path in a folder you can write to.') from None
    return path
