"""Recordings in (gle_brian.io): NWB and Neo signals and arrays, resampled to the network's dt and scaled; every bad
input a clear error; networks take the result (and 1-D inputs) directly."""
import datetime

import neo
import numpy as np
import pytest
import quantities as pq
from brian2 import Hz, TimedArray, kHz, mV, ms, pA, second

from gle_brian import GLEInputError, GLENetwork, Layer
from gle_brian.io import Signal, from_array, from_neo, physical_unit, read_nwb, to_nwb

RATE, FREQUENCY = 1000.0, 7.0                  # 1 kHz recording of a 7 Hz sine


def sine(times, frequency=FREQUENCY):
    return np.sin(2 * np.pi * frequency * times)


def interior(signal, exact, margin=50):
    """Largest deviation away from the edges (the resampling filter's edges)."""
    return np.abs(np.asarray(signal)[margin:-margin] - exact[margin:-margin]).max()


def write_nwb(path, **series):
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.misc import Units  # noqa: F401  (pynwb's tables are registered on import)
    nwbfile = NWBFile(session_description='synthetic recording', identifier='test',
                      session_start_time=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))
    module = nwbfile.create_processing_module('ecephys', 'processed signals')
    for name, (place, kwargs) in series.items():
        ts = TimeSeries(name=name, **kwargs)
        {'acquisition': nwbfile.add_acquisition, 'stimulus': nwbfile.add_stimulus, 'module': module.add}[place](ts)
    with NWBHDF5IO(str(path), 'w') as io:
        io.write(nwbfile)
    return path


@pytest.fixture(scope='module')
def nwb_file(tmp_path_factory):
    t = np.arange(2000) / RATE
    irregular = (np.arange(3000) + np.random.default_rng(0).uniform(-0.3, 0.3, 3000)) / 1500   # jittered clock
    data = np.column_stack([sine(t), 2 * sine(t, 3.0)])
    return write_nwb(
        tmp_path_factory.mktemp('nwb') / 'recording.nwb',
        vm=('acquisition', dict(data=np.round(data * 1e3 - 5000).astype(np.int32), unit='volts', conversion=1e-6,
                                offset=0.005, rate=RATE, starting_time=0.5)),   # stored as integer uV, offset 5 mV
        drive=('stimulus', dict(data=sine(t), unit='pA', rate=RATE)),
        lfp=('module', dict(data=sine(irregular), unit='a.u.', timestamps=irregular)),
        vm_copy=('module', dict(data=sine(t), unit='volts', rate=RATE)))


def test_nwb_series_are_read_with_rate_start_unit_conversion_and_offset(nwb_file):
    signal = read_nwb(nwb_file, 'vm', dt=0.1 * ms, scale=1 * mV)
    times = np.arange(len(signal)) * 1e-4
    assert isinstance(signal, Signal) and signal.shape == (19991, 2) and signal.dt == 0.1 * ms
    assert signal.start == 0.5 * second and signal.unit == 'volts' and signal.source.endswith(':acquisition/vm')
    assert interior(signal[:, 0], sine(times)) < 2e-3 and interior(signal[:, 1], 2 * sine(times, 3.0)) < 2e-3
    np.testing.assert_allclose(signal.to_physical(signal.values) / mV, signal.values, rtol=1e-12)
    drive = read_nwb(nwb_file, 'stimulus/drive', dt=0.5 * ms, scale=10 * pA, channels=0)
    assert drive.shape == (3999, 1) and interior(drive, sine(np.arange(3999) * 5e-4)[:, None] / 10) < 1e-3


def test_irregular_timestamps_in_a_processing_module(nwb_file):
    signal = read_nwb(nwb_file, 'lfp', dt=0.2 * ms, scale=1.0)
    exact = sine(float(signal.start) + np.arange(len(signal)) * 2e-4)
    assert interior(signal[:, 0], exact) < 5e-3 and float(signal.start) < 1e-3


def test_z_score_is_the_default_scale(nwb_file):
    signal = read_nwb(nwb_file, 'ecephys/vm_copy', dt=0.2 * ms)
    np.testing.assert_allclose(signal.values.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(signal.values.std(axis=0), 1, rtol=1e-12)
    physical = signal.to_physical(signal.values)[:, 0] / mV          # back in volts (here in mV)
    assert interior(physical, 1e3 * sine(np.arange(len(signal)) * 2e-4)) < 1


@pytest.mark.parametrize('call, match', [
    (lambda f: read_nwb(f.parent / 'missing.nwb', 'vm', dt=0.1 * ms), 'no such file'),
    (lambda f: read_nwb(f, 'spikes', dt=0.1 * ms), r"has no TimeSeries 'spikes'; it has \['acquisition/vm'"),
    (lambda f: read_nwb(__file__, 'vm', dt=0.1 * ms), 'is not a readable NWB file'),
    (lambda f: read_nwb(f, 'vm', dt=2 * ms), r'coarser than the sampling interval .*1 ms, 1000 Hz.*downsample=True'),
    (lambda f: read_nwb(f, 'vm', dt=0.1 * ms, channels=[]), 'selection .* is empty'),
    (lambda f: read_nwb(f, 'vm', dt=0.1 * ms, channels=5), r'channels=5 is not a selection of the 2 channels'),
    (lambda f: read_nwb(f, 'vm', dt=0.1 * ms, scale=1 * pA), r"scale=.*cannot be applied to .*unit is 'volts'"),
    (lambda f: read_nwb(f, 'vm', dt=0.1 * Hz), 'dt'),
    (lambda f: from_array(np.ones(10), 0.1 * ms), 'neither a rate nor timestamps'),
    (lambda f: from_array(np.ones(10), 0.1 * ms, rate=1 * kHz, timestamps=np.arange(10)), 'both a rate and'),
    (lambda f: from_array(np.ones(3), 0.1 * ms, timestamps=[0, 2e-3, 1e-3]), r'not increasing \(first at sample 2\)'),
    (lambda f: from_array([0, 1, np.nan, 3], 0.1 * ms, rate=1e4), 'NaN or inf .*sample 2, channel 0'),
    (lambda f: from_array(np.ones(50), 0.1 * ms, rate=1e4), 'channel 0 of array is constant'),
    (lambda f: from_array(np.ones((2, 2, 2)), 0.1 * ms, rate=1e4), r'shape \(2, 2, 2\); expected \(samples, chan'),
    (lambda f: from_array(np.arange(9.0), 0.1 * ms, rate=-1), 'positive sampling rate'),
    (lambda f: from_neo(np.zeros(3), 0.1 * ms), 'is not a Neo signal'),
])
def test_bad_recordings_are_clear_errors(nwb_file, call, match):
    with pytest.raises((GLEInputError, ValueError), match=match):
        call(nwb_file)


def test_a_coarser_dt_when_asked_for_is_low_pass_filtered():
    t = np.arange(4000) / 4000.0
    recording = sine(t, 5.0) + sine(t, 900.0)            # 900 Hz is above the 250 Hz that dt = 2 ms holds
    signal = from_array(recording, 2 * ms, rate=4000, scale=1.0, downsample=True)
    assert interior(signal[:, 0], sine(np.arange(len(signal)) * 2e-3, 5.0), margin=10) < 0.02


def test_neo_signals_regular_and_irregular():
    t = np.arange(1500) / RATE
    regular = neo.AnalogSignal(np.column_stack([sine(t), sine(t, 2.0)]) * 1e3, units='uV', sampling_rate=1 * pq.kHz,
                               t_start=0.25 * pq.s, name='vm')
    signal = from_neo(regular, 0.1 * ms, channels=[1], scale=1 * mV)
    assert signal.start == 0.25 * second and signal.unit == 'uV' and signal.shape[1] == 1
    assert interior(signal[:, 0], sine(np.arange(len(signal)) * 1e-4, 2.0)) < 2e-3
    times = (np.arange(2000) + np.random.default_rng(1).uniform(-0.3, 0.3, 2000)) / 1333
    irregular = neo.IrregularlySampledSignal(times * pq.s, sine(times) * 20, units='pA', time_units='s')
    signal = from_neo(irregular, 0.5 * ms, scale=20 * pA)
    assert interior(signal[:, 0], sine(float(signal.start) + np.arange(len(signal)) * 5e-4)) < 5e-3


def test_unit_names():
    assert [physical_unit(name) for name in ('volts', 'mV', 'uV', 'µV', 'amperes', 'pA', 'a.u.', 'nonsense')] == [
        1000 * mV, mV, mV / 1000, mV / 1000, 1e12 * pA, pA, None, None]


def test_networks_take_recordings_and_one_channel_inputs_directly(nwb_file):
    net = GLENetwork(1, [Layer(1, tau_m=1 * ms)], dt=0.1 * ms, device='numpy', loss='mse', seed=1, record=['r'])
    signal = read_nwb(nwb_file, 'stimulus/drive', dt=0.1 * ms, scale=1 * pA)[:300]
    start = net.get_state() if net.started else None
    assert start is not None
    net.run(read_nwb(nwb_file, 'stimulus/drive', dt=0.1 * ms, scale=1 * pA))             # a Signal as input
    net2 = GLENetwork(1, [Layer(1, tau_m=1 * ms)], dt=0.1 * ms, device='numpy', loss='mse', seed=1, record=['r'])
    net2.run(TimedArray(signal[:, 0], dt=0.1 * ms), target=signal[:, 0], duration=30 * ms)  # 1-D TimedArray, 1-D
    net3 = GLENetwork(1, [Layer(1, tau_m=1 * ms)], dt=0.1 * ms, device='numpy', loss='mse', seed=1, record=['r'])
    net3.run(signal, target=signal)
    np.testing.assert_array_equal(net2.trace('r', 0), net3.trace('r', 0))
    with pytest.raises(GLEInputError, match=r'x was resampled to dt=0.2 ms, but the network steps with dt=0.1 ms'):
        net.run(read_nwb(nwb_file, 'stimulus/drive', dt=0.2 * ms, scale=1 * pA))
    wide = GLENetwork(2, [Layer(1, tau_m=1 * ms)], dt=0.1 * ms, device='numpy', seed=1)
    with pytest.raises(GLEInputError, match='1-D TimedArray .*takes 2 channels'):
        wide.run(TimedArray(signal[:, 0], dt=0.1 * ms), duration=30 * ms)


def recorded_network():
    from gle_brian.recording import poisson_spikes, record
    net = GLENetwork(1, [Layer(3, 'tanh', tau_m=1 * ms), Layer(1, tau_m=1 * ms)], dt=0.1 * ms, device='numpy',
                     loss='mse', seed=1)
    rec = record(net, ['u', 'r', 'w'], neurons={0: [0, 2], 1: None})
    net.run(np.sin(np.arange(300) / 20.0) + 0.5, np.zeros(300))
    return rec, poisson_spikes(rec['r', 0], rec.dt, rate_scale=500 * Hz, trials=3, seed=0)


def inspect(path, config=None):
    """The inspector's messages that are critical or best-practice violations."""
    from nwbinspector import Importance, inspect_nwbfile, load_config
    messages = inspect_nwbfile(nwbfile_path=str(path), config=load_config(config) if config else None)
    return [f'{m.importance.name} {m.check_function_name}: {m.message}' for m in messages
            if m.importance in (Importance.CRITICAL, Importance.BEST_PRACTICE_VIOLATION)]


def test_nwb_export_passes_the_inspector_with_spikes_as_a_units_table(tmp_path):
    from pynwb import NWBHDF5IO
    rec, (t, i) = recorded_network()
    path = to_nwb(rec, tmp_path / 'run.nwb', spikes={0: (t, i, 6)})          # 2 neurons x 3 trials
    assert inspect(path) == []
    with NWBHDF5IO(str(path), 'r') as io:
        nwb = io.read()
        units = nwb.units.to_dataframe()
        assert len(units) == 6 and list(units.population) == ['layer0'] * 6
        assert list(units.neuron) == [0, 2] * 3 and list(units.trial) == [0, 0, 1, 1, 2, 2]
        for k, times in enumerate(units.spike_times):
            np.testing.assert_allclose(times, np.sort(np.asarray(t / second)[i == k]), rtol=0, atol=1e-15)
            assert np.all(np.diff(times) >= 0)
        assert nwb.units.resolution == pytest.approx(1e-4) and nwb.subject.subject_id == 'simulation'
        series = nwb.acquisition['u_layer0']
        assert series.rate == 10000.0 and series.data.shape == (300, 2) and 0 < series.resolution < 1e-12
        assert nwb.acquisition['w_layer0'].data.shape == (300, 2, 1)


def test_nwb_export_with_a_subject_and_session_metadata_meets_the_dandi_checks(tmp_path):
    rec, (t, i) = recorded_network()
    subject = dict(subject_id='mouse-7', species='Mus musculus', sex='F', age='P90D', description='donor of the '
                   'recording the model is compared with')
    path = to_nwb(rec, tmp_path / 'run.nwb', spikes={0: (t, i)}, subject=subject, experimenter=['Doe, Jane'],
                  institution='University of Bern', lab='CNS', session_id='s1')
    assert inspect(path, 'dandi') == []
    with pytest.raises(GLEInputError, match=r"subject=.* is not a valid NWB subject"):
        to_nwb(rec, tmp_path / 'x.nwb', subject={'name_of_the_mouse': 'x'})
    with pytest.raises(GLEInputError, match=r"the NWB metadata \['colour'\] cannot be used"):
        to_nwb(rec, tmp_path / 'x.nwb', colour='red')
    with pytest.raises(GLEInputError, match='layer 1 was not recorded'):
        from gle_brian.recording import record
        to_nwb(record(rec.net, ['r'], layers=[0]), tmp_path / 'x.nwb', spikes={1: (t, i)})
