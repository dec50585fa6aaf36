"""Long sessions: many short runs of one network reuse Brian2's generated code and keep memory flat; monitors keep the
last run (or every run, by choice) and a recording that would not fit in memory is refused before the run."""
import gc
import logging
import sys
import time
import tracemalloc

import numpy as np
import pytest
from brian2 import ms, prefs

from gle_brian import GLEConfigError, GLENetwork, Layer

STEPS = 20


def small_net(**kwargs):
    return GLENetwork(2, [Layer(8, 'tanh', tau_m=1 * ms), Layer(1, tau_m=1 * ms)], dt=0.1 * ms, device='numpy',
                      loss='mse', record=['r'], seed=1, **kwargs)


def runs(net, count, seconds=None):
    rng = np.random.default_rng(0)
    for _ in range(count):
        x, y = rng.random((STEPS, 2)), rng.random((STEPS, 1))
        started = time.perf_counter()
        net.run(x, y)
        if seconds is not None:
            seconds.append(time.perf_counter() - started)


def growth_and_times(count, warm_up=20):
    """Memory (bytes, traced) that ``count`` runs after ``warm_up`` runs leave behind, and the time of every run.

    Brian2's diagnostic log messages are not emitted meanwhile: pytest keeps every record it captures (a test run's
    memory, not the session's)."""
    net, seconds = small_net(), []
    runs(net, warm_up, seconds)
    gc.collect()
    logger = logging.getLogger('brian2')
    level = logger.level
    logger.setLevel(logging.WARNING)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        runs(net, count, seconds)
        gc.collect()                       # what the runs left as garbage is not kept
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        logger.setLevel(level)
    return after - before, np.array(seconds[warm_up:]), net


def brian_cache_entries():
    """Entries in the caches of Brian2's code generation (every function decorated with ``brian2.utils.caching``)."""
    return sum(len(value._cache) for name, module in list(sys.modules.items()) if name.startswith('brian2')
               for value in vars(module).values()
               if callable(value) and isinstance(getattr(value, '_cache', None), dict))


def test_many_short_runs_reuse_the_generated_code_and_monitors_hold_the_last_run():
    """New TimedArrays and a new t_start in every run's namespace were new keys of Brian2's code-generation caches in
    every run (about 15 kB a run, and slower runs), and the monitors kept every run's samples: now the caches stop
    growing after the first runs, and a monitor holds one run. (The memory itself: the long test below.)"""
    net = small_net()
    runs(net, 3)
    before = brian_cache_entries()
    runs(net, 20)
    assert brian_cache_entries() == before
    monitor = net.monitors[0]['r']
    assert len(monitor.t_) == STEPS and net.trace('r', 0).shape == (STEPS, 8)


@pytest.mark.long
def test_500_short_runs_stay_as_fast_as_the_first():
    growth, seconds, _ = growth_and_times(500)
    first, last = np.median(seconds[:100]), np.median(seconds[-100:])
    assert last < 1.3 * first, f'first 100 runs {1e3 * first:.1f} ms, last 100 {1e3 * last:.1f} ms'
    assert growth < 1024 * 1024, f'{growth / 1024:.0f} kB after 500 runs'


@pytest.fixture
def preferences():
    saved = prefs.gle_brian.keep_recordings, prefs.gle_brian.max_recording_bytes
    yield prefs.gle_brian
    prefs.gle_brian.keep_recordings, prefs.gle_brian.max_recording_bytes = saved


def test_keep_all_recordings_keeps_every_run_and_traces_show_the_last(preferences):
    preferences.keep_recordings = 'all'
    net = small_net()
    runs(net, 3)
    assert len(net.monitors[0]['r'].t_) == 3 * STEPS and net.trace('r', 0).shape == (STEPS, 8)
    np.testing.assert_allclose(net.trace_times(0) / ms, (2 * STEPS + np.arange(STEPS)) * 0.1, rtol=1e-12)


@pytest.mark.parametrize('keep', ['last', 'all'])
def test_a_recording_over_the_memory_limit_is_refused_before_the_run(keep, preferences):
    preferences.keep_recordings = keep
    net = small_net()
    runs(net, 2)
    per_run = STEPS * (8 + 8 * 8) + STEPS * (8 + 8)         # per layer 20 samples: the time and the rates
    assert per_run == 1760
    preferences.max_recording_bytes = per_run * (2.5 if keep == 'all' else 0.5)
    state = net.get_state()
    expected = {'last': r'1.76e-06 GB \(record_layer_0, record_layer_1\)', 'all': '5.28e-06 GB'}[keep]
    expected += '.*more than prefs.gle_brian.max_recording_bytes = .*record_dt=' + '.*keep_recordings' * (keep == 'all')
    with pytest.raises(GLEConfigError, match=f'this run would record {expected}'):
        runs(net, 1)
    for key, value in net.get_state().items():
        np.testing.assert_array_equal(value, state[key], err_msg=key)
    preferences.max_recording_bytes = 1e9
    runs(net, 1)


def test_the_start_of_a_run_is_a_double_in_single_precision_too():
    """Inputs and targets are read at t - t_start: t_start must resolve t (double) after hours of simulated time."""
    net = GLENetwork(1, [Layer(2, tau_m=1 * ms)], dt=0.1 * ms, device='numpy', loss='mse', precision='single', seed=1)
    for _ in range(2):
        net.run(np.ones(10), np.ones((10, 2)))
    for group in (net.network['input'], net.neurons[0]):
        assert group.variables['t_start'].dtype == np.float64 and float(group.t_start[:]) == float(1 * ms)
