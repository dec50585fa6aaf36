"""Shared fixtures: the code-generation targets a test runs on, and the parity layers.

The suite runs on all cores (pytest-xdist, ``-n auto --dist loadscope`` in pytest.ini): each module
runs on one worker, so a module fixture builds its network once. The modules that take longest (measured,
MODULE_SECONDS) are started first, so that the workers end together.

Compiled code is built without optimisation (``-O0`` for Brian2's ``-O3``): that halves the compile time
of a cython network, and every compiled result is still checked against the mirror to 1e-12.
``library_compile_flags()`` builds with the flags users get (one parity network in test_targets).
"""
import contextlib
import subprocess
import sys

import pytest
from brian2 import ms, prefs

from bench.make_gpu_reference import parity_layers
from gle_brian import GLENetwork, Layer, devices

LIBRARY_COMPILE_FLAGS = list(prefs.codegen.cpp.extra_compile_args_gcc)
TEST_COMPILE_FLAGS = ['-O0' if flag == '-O3' else flag for flag in LIBRARY_COMPILE_FLAGS]

#: seconds per test module in a cold run on 2 cores (the sum of pytest --durations=0, measured 2026-12-06 after the
#: precompiled header: 731 s in all, 378 s on two workers): the order in which the workers take the modules, longest
#: first, so that they end together; modules not listed are short
MODULE_SECONDS = {'test_targets.py': 125, 'test_sweep.py': 75, 'test_devices.py': 50, 'test_tutorials.py': 40,
                  'test_brian2_script.py': 35, 'test_objects.py': 35, 'test_microcircuit.py': 30,
                  'test_training.py': 30, 'test_numerics.py': 25, 'test_lagline.py': 25, 'test_learning.py': 25,
                  'test_graph.py': 25, 'test_checkpoints.py': 25, 'test_mnist1d.py': 20, 'test_demo.py': 20,
                  'test_cuda.py': 20, 'test_lagnet.py': 15, 'test_long_sessions.py': 15, 'test_column.py': 15,
                  'test_sparse.py': 15, 'test_recording.py': 10, 'test_session.py': 10, 'test_speech.py': 10,
                  'test_style.py': 10, 'test_precision.py': 10, 'test_io.py': 5, 'test_analytic.py': 5}

NUMPY = pytest.param('numpy')
CPP_STANDALONE = pytest.param('cpp_standalone', marks=pytest.mark.standalone)


@pytest.fixture(params=[NUMPY, CPP_STANDALONE])
def device(request):
    """numpy and cpp_standalone: a feature on the interpreted and on the compiled path.

    Cython compiles every code object of a network on its own (minutes per network on 2 cores, cold),
    so only test_targets builds a cython network.
    """
    return request.param


@pytest.fixture(scope='session')
def mixed_layers():
    """The 3-layer net of the parity tests: mixed per-neuron time constants, nudging, a bias."""
    return parity_layers()


def small_net(dt=0.01 * ms, **kwargs):
    """A 2-3-1 numpy network (tanh hidden layer, MSE) for the checks of arguments and inputs; ``kwargs``
    replace its constructor arguments."""
    options = dict(n_in=2, layers=[Layer(3, 'tanh', tau_m=1 * ms, tau_r=0.1 * ms), Layer(1, tau_m=1 * ms)],
                   dt=dt, device='numpy', loss='mse', seed=0)
    options.update(kwargs)
    return GLENetwork(**options)


@pytest.fixture(autouse=True)
def brian_session():
    """Each test leaves Brian2's device and code-generation target as it found them: a test that selects a device
    itself, as a user's script does, does not change the next test's session."""
    with devices.restoring():
        yield


def pytest_configure(config):
    prefs.codegen.cpp.extra_compile_args_gcc = list(TEST_COMPILE_FLAGS)


@contextlib.contextmanager
def folder_held_by_another_process(folder, pid):
    """Inside the block another process holds ``folder``'s lock (as a process working in it would), writing ``pid``
    as the holder's."""
    folder.mkdir(exist_ok=True)
    holder = subprocess.Popen([sys.executable, '-c', 'import fcntl, time\n'
                               f'f = open({str(folder / ".gle_brian.lock")!r}, "a+"); fcntl.flock(f, fcntl.LOCK_EX)\n'
                               f'f.write("{pid}"); f.flush(); print("locked", flush=True); time.sleep(60)'],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        yield
    finally:
        holder.kill()
        holder.wait()


@contextlib.contextmanager
def library_compile_flags():
    """Inside the block, networks compile with Brian2's own flags (``-O3``), as users build them."""
    saved = prefs.codegen.cpp.extra_compile_args_gcc
    prefs.codegen.cpp.extra_compile_args_gcc = list(LIBRARY_COMPILE_FLAGS)
    try:
        yield
    finally:
        prefs.codegen.cpp.extra_compile_args_gcc = saved


def pytest_collection_modifyitems(items):
    """Modules by their measured time, longest first (xdist runs them in this order: pytest.ini has
    --no-loadscope-reorder); a module's tests stay together and in their order (module fixtures are built once)."""
    def seconds(item):
        return MODULE_SECONDS.get(item.path.name, 0)
    items.sort(key=lambda item: -seconds(item))
