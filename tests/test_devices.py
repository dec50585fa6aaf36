"""Devices: standalone and runtime networks alternate in one process; a closed, failed or interrupted
standalone project raises a clear error (Ctrl-C a KeyboardInterrupt)."""
import glob
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from brian2 import ms, prefs

from gle_brian import GLEDeviceError, GLEInputError, GLENetwork, Layer, compilation, openmp, streaming
from gle_brian import standalone as standalone_module
from gle_brian.recording import record
from conftest import folder_held_by_another_process

pytestmark = pytest.mark.standalone

STEPS = 50


def small_net(device, **kwargs):
    layers = [Layer(3, 'tanh', tau_m=0.3 * ms, tau_r=0.1 * ms, bias=True), Layer(2, tau_m=0.2 * ms)]
    return GLENetwork(2, layers, dt=0.1 * ms, device=device, loss='mse', beta=0.2, seed=3, record=['r', 'w'],
                      biases=[np.full(3, 0.1), None], **kwargs)


def signals(k):
    t = np.arange(STEPS)[:, None] * 0.1
    return np.hstack([np.sin(t + k), np.cos(2 * t)]), np.full((STEPS, 2), 0.5)


@pytest.fixture(scope='module')
def standalone(tmp_path_factory):
    """A compiled cpp_standalone network that has run once on signals(0)."""
    net = small_net('cpp_standalone', directory=str(tmp_path_factory.mktemp('project')))
    net.output_recording = record(net, ['r'], layers=-1)
    net.run(*signals(0))
    return net


def test_standalone_and_runtime_networks_alternate(standalone):
    """A numpy network built and run between two runs of the standalone one changes nothing for it."""
    twin = small_net('numpy')           # built after the standalone network: selects the runtime device
    twin.run(*signals(0))
    for k in (1, 2):
        standalone.run(*signals(k))
        twin.run(*signals(k))
        for variable in ('r', 'w'):
            np.testing.assert_allclose(standalone.trace(variable, 1), twin.trace(variable, 1), atol=1e-12)
        for ours, theirs in zip(standalone.weights + standalone.biases + standalone.tau_m,
                                twin.weights + twin.biases + twin.tau_m):
            np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), atol=1e-12)
        assert len(standalone.trace_times(1)) == STEPS
    assert standalone_module.StandaloneProject.compile and standalone.project.builds == 1
    if os.path.isdir(standalone_module.MEMORY_FOLDER):      # the runs after the first write their results in memory
        assert standalone.project.results.startswith(standalone_module.MEMORY_FOLDER + os.sep)
        assert os.path.isfile(os.path.join(standalone.project.results, 'last_run_info.txt'))
        assert not os.path.exists(os.path.join(standalone.project.directory, 'results'))
        assert standalone.project.inputs == os.path.join(os.path.dirname(standalone.project.results), 'inputs')
        assert any(name.startswith('init_') for name in os.listdir(standalone.project.inputs))


def test_runs_of_any_length_reuse_the_binary(standalone):
    """Runs shorter and longer than the first (a part and a half) give the numbers of a numpy twin, and one run of
    two parts gives, bit for bit, the numbers of the same steps in two runs (gle_brian.streaming)."""
    twin = small_net('numpy')
    twin.set_state(standalone.get_state())
    x, y = (np.concatenate([signals(k)[i] for k in (6, 7, 8)]) for i in (0, 1))
    for begin, end in ((0, STEPS - 20), (STEPS - 20, 2 * STEPS + 5)):
        standalone.run(x[begin:end], y[begin:end])
        twin.run(x[begin:end], y[begin:end])
        assert standalone.trace('r', 1).shape == (end - begin, 2)
        np.testing.assert_allclose(standalone.trace('r', 1), twin.trace('r', 1), atol=1e-12)
        for key, value in standalone.get_state().items():
            np.testing.assert_allclose(value, twin.get_state()[key], atol=1e-12, err_msg=key)
    assert standalone.steps_per_run is None and standalone.project.builds == 1
    state = standalone.get_state()
    runs = []
    for begin, end in ((0, STEPS), (STEPS, 2 * STEPS), (0, 2 * STEPS)):
        if begin == 0:
            standalone.set_state(state)
        standalone.run(x[begin:end], y[begin:end])
        runs.append((standalone.trace('r', 1), standalone.trace('w', 1), standalone.get_state()))
    (r0, w0, _), (r1, w1, apart), (r, w, together) = runs
    np.testing.assert_array_equal(r, np.concatenate([r0, r1]))
    np.testing.assert_array_equal(w, np.concatenate([w0, w1]))
    for key, value in apart.items():
        np.testing.assert_array_equal(together[key], value, err_msg=key)


def test_a_run_longer_than_its_input_file_is_refused(standalone, tmp_path):
    """The binary stops with a clear message when a stream ends before the run does (the last run's recording is
    still readable)."""
    recorded = standalone.trace('r', 1)
    short = tmp_path / 'x.dat'
    np.zeros((10, 2)).tofile(short)
    with pytest.raises(GLEDeviceError, match=f'GLE_BRIAN_INPUT ends after 10 steps; the run has {STEPS + 1}'):
        standalone.project.run({}, streaming.environment(STEPS + 1, {streaming.INPUT: str(short)}))
    assert not any(name.startswith('GLE_BRIAN') for name in os.environ)
    np.testing.assert_array_equal(standalone.trace('r', 1), recorded)


def test_cuda_runs_keep_the_first_runs_length():
    """A cuda_standalone binary reads its input as Brian2 run_args, compiled for the first run's length: another
    length is refused before anything is set for the run."""
    net = small_net('numpy')
    with pytest.raises(GLEInputError, match=f'compiled for {STEPS} steps per run'):
        net.check_run(np.zeros((STEPS - 20, 2)), steps_per_run=STEPS)


def test_run_edges_follow_the_phases_or_chunks(monkeypatch):
    """Phases are runs where a run may have any length; a binary that keeps its first run's length (cuda_standalone)
    runs them in chunks, and a chunk that does not divide a phase is refused by name."""
    net = small_net('numpy')
    assert net.run_edges([0, 40, 40, 100], 20) == [0, 40, 100]
    monkeypatch.setattr(net.runner, 'any_length', False)
    assert net.run_edges([0, 40, 100], 20) == [0, 20, 40, 60, 80, 100]
    with pytest.raises(GLEInputError, match='chunk=30 steps does not divide'):
        net.run_edges([0, 40, 100], 30)


def test_failed_run_names_the_folder_and_the_output(standalone, tmp_path):
    """A program that fails (here a stand-in for the binary) gives its folder and the end of its output; the state
    and the last run's recording stay as they were."""
    binary = standalone.project.binary
    recorded = standalone.trace('r', 1)
    os.rename(binary, tmp_path / 'main')
    with open(binary, 'w') as f:
        f.write('#!/bin/sh\necho "std::bad_alloc: out of memory"\nexit 3\n')
    os.chmod(binary, 0o755)
    before = standalone.get_state()
    try:
        with pytest.raises(GLEDeviceError, match=rf'(?s)running the compiled cpp_standalone project in '
                                                 rf'{standalone.project.directory} failed.*std::bad_alloc'):
            standalone.run(*signals(3))
    finally:
        os.replace(tmp_path / 'main', binary)
    for key, value in standalone.get_state().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)
    np.testing.assert_array_equal(standalone.trace('r', 1), recorded)     # the last run's recording is still there
    standalone.run(*signals(3))                      # the real binary runs again


def test_a_run_writes_only_the_input_files_whose_values_changed(standalone):
    """Brian2 names each input file of a run (``static_arrays/init_*``) by a hash of its values and does not write one
    that is there: a run from the same state as the last writes only its new input; the files of the run before
    that this run did not use are removed (a long training does not fill the disk)."""
    folder = standalone.project.inputs

    def inputs():
        return {name: os.stat(os.path.join(folder, name)).st_mtime_ns for name in os.listdir(folder)
                if name.startswith('init_')}

    state = standalone.get_state()
    standalone.run(*signals(4))
    first = inputs()
    standalone.set_state(state)
    standalone.run(*signals(5))
    assert len(first) > 20 and inputs() == first            # the same state: no file written again
    standalone.run(*signals(5))
    second = inputs()
    assert all(first[name] == second[name] for name in first.keys() & second.keys())
    assert second.keys() != first.keys()                    # the state changed, and the old state's files are gone
    np.testing.assert_array_equal(np.fromfile(os.path.join(folder, 'x_input.dat')).reshape(STEPS, 2), signals(5)[0])


def test_results_folders_in_memory_of_ended_processes_are_removed(tmp_path, monkeypatch):
    """A process killed before it removed its results folder in memory leaves it; the next one made removes it."""
    monkeypatch.setattr(standalone_module, 'MEMORY_FOLDER', str(tmp_path))
    ended = subprocess.Popen([sys.executable, '-c', 'pass'])
    ended.wait()
    for pid in (ended.pid, os.getpid()):
        (tmp_path / f'gle_brian_results_{pid}_a_b' / 'results').mkdir(parents=True)
    standalone_module._remove_orphans()
    assert os.listdir(tmp_path) == [f'gle_brian_results_{os.getpid()}_a_b']


def test_a_built_network_keeps_no_copies_of_its_initial_values(standalone):
    """Once built, Brian2's copies of the initial values (in the project's files) are dropped, and the positions of
    a dense projection's weights are made when asked for: the weights are held by the state alone."""
    device = standalone.project.brian_device
    assert device.static_arrays and not any(np.asarray(values).size for values in device.static_arrays.values())
    for projection, positions in zip(standalone.projections, standalone.weight_positions):
        assert projection._positions is None
        np.testing.assert_array_equal(positions.ravel(), np.arange(positions.size))
        np.testing.assert_array_equal(projection.W.ravel(), projection.weight_group.w[:])


def test_network_closed_by_a_newer_standalone_network(standalone):
    results = standalone.project.results
    small_net('cpp_standalone')                       # not compiled: building it resets the device
    if results.startswith(standalone_module.MEMORY_FOLDER):
        assert not os.path.exists(results)           # its results folder in memory is removed
    for read in (lambda: standalone.weights, lambda: standalone.biases, lambda: standalone.tau_m,
                 lambda: standalone.trace('r', 0), lambda: standalone.get_state(),
                 lambda: standalone.output_recording['r', -1], lambda: standalone.output_recording.t,
                 lambda: standalone.run(*signals(0))):
        with pytest.raises(GLEDeviceError, match='this cpp_standalone network was closed because another '
                                                 'standalone network was built'):
            read()


def test_failed_build_names_the_folder_and_the_compiler_output(tmp_path):
    macros = prefs.codegen.cpp.define_macros
    prefs.codegen.cpp.define_macros = macros + [('brian', '1')]      # 'namespace brian' does not compile
    net = small_net('cpp_standalone', directory=str(tmp_path))
    try:
        with pytest.raises(GLEDeviceError, match=rf"(?s)compiling the cpp_standalone project in {tmp_path} failed "
                                                 r"\('make -j\d*' exited with 2\); its output ended with:.*error.*"
                                                 'build the network again'):
            net.run(*signals(0))
    finally:
        prefs.codegen.cpp.define_macros = macros
    with pytest.raises(GLEDeviceError, match=rf'project in {tmp_path} has no compiled program: its build failed, '
                                             'was interrupted.*build the network again'):
        net.run(*signals(0))


SCRIPT = '''
import sys, time
import numpy as np
from brian2 import ms, prefs
from gle_brian import GLENetwork, Layer
prefs.codegen.cpp.extra_compile_args_gcc = sys.argv[3].split()     # the suite's compile flags
net = GLENetwork(1, [Layer(3000, 'tanh', tau_m=1*ms), Layer(3, tau_m=1*ms)],
                 dt=0.01*ms, device='cpp_standalone', directory=sys.argv[1])
x = np.zeros((int(sys.argv[2]), 1))
try:
    start = time.perf_counter()
    net.run(x)
    print('ran', time.perf_counter() - start, flush=True)
    net.run(x)
    print('not interrupted', flush=True)
except BaseException as error:   # Brian2's excepthook prints no traceback for a KeyboardInterrupt
    print(type(error).__name__, file=sys.stderr, flush=True)
    raise
'''


def interrupt(directory, steps, ready):
    """Run SCRIPT in its own process group and press Ctrl-C (SIGINT to the group) once ``ready(process)``."""
    flags = ' '.join(prefs.codegen.cpp.extra_compile_args_gcc)
    process = subprocess.Popen([sys.executable, '-c', SCRIPT, str(directory), str(steps), flags],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        ready(process)
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    return process.returncode, out, err


def test_ctrl_c_while_compiling_and_while_running_is_a_keyboard_interrupt(tmp_path):
    """As a terminal does, SIGINT goes to the whole process group (Python, make and the compiler, the binary)."""
    def compiling(process):
        while not os.path.exists(tmp_path / 'makefile') and process.poll() is None:
            time.sleep(0.1)
        time.sleep(1.0)

    code, out, err = interrupt(tmp_path, 50000, compiling)
    assert code in (-signal.SIGINT, 128 + signal.SIGINT), err[-2000:]
    assert err.rstrip().endswith('KeyboardInterrupt') and 'GLEDeviceError' not in err and 'ran' not in out

    def running(process):
        assert process.stdout.readline().startswith('ran'), process.stderr.read()[-2000:]
        time.sleep(0.3)

    code, out, err = interrupt(tmp_path, 50000, running)     # the rebuild finishes the interrupted compilation
    assert code in (-signal.SIGINT, 128 + signal.SIGINT), err[-2000:]
    assert err.rstrip().endswith('KeyboardInterrupt') and 'GLEDeviceError' not in err and 'not interrupted' not in out


def test_a_project_folder_in_use_by_another_process_is_refused(tmp_path):
    """Two processes on one standalone project folder overwrote each other's files (raw errors, or wrong outputs):
    the folder is locked by the process that builds in it, and a second one gets an error naming the folder."""
    folder = tmp_path / 'project'
    with folder_held_by_another_process(folder, 4242):
        with pytest.raises(GLEDeviceError, match=rf'project folder {folder} is in use by another process \(pid 4242\)'):
            small_net(device='cpp_standalone', directory=str(folder))
    small_net(device='cpp_standalone', directory=str(folder))        # free again


def test_temporary_project_folders_are_removed_at_exit():
    code = ('from brian2 import ms\nfrom gle_brian import GLENetwork, Layer\n'
            'net = GLENetwork(1, [Layer(1, tau_m=1*ms)], dt=0.1*ms, device="cpp_standalone")\n'
            'print(net.project.directory)')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    folder = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0 and 'gle_brian_cpp_standalone_' in folder and not os.path.exists(folder)


def test_threads_follow_the_preference_else_the_size_of_the_products():
    """All cores from PARALLEL_WORK multiplications per projection and step, one thread below; a user's
    prefs.devices.cpp_standalone.openmp_threads wins; openmp.openmp builds for its threads and restores the
    preference (one thread: without OpenMP)."""
    cores, saved = len(os.sched_getaffinity(0)), prefs.devices.cpp_standalone.openmp_threads
    assert saved == 0
    assert openmp.openmp_threads(openmp.PARALLEL_WORK) == cores
    assert openmp.openmp_threads(openmp.PARALLEL_WORK - 1) == 1
    with openmp.openmp(1):
        assert prefs.devices.cpp_standalone.openmp_threads == 0
    with openmp.openmp(3):
        assert prefs.devices.cpp_standalone.openmp_threads == 3
    prefs.devices.cpp_standalone.openmp_threads = 3
    try:
        assert openmp.openmp_threads(0) == 3 and openmp.openmp_threads(10 ** 9) == 3
    finally:
        prefs.devices.cpp_standalone.openmp_threads = saved
    prefs.gle_brian.cores = 1                 # a sweep task's share of the machine (gle_brian.sweep)
    try:
        assert openmp.openmp_threads(openmp.PARALLEL_WORK) == 1 and openmp.cores() == 1
    finally:
        prefs.gle_brian.cores = 0
    assert prefs.devices.cpp_standalone.openmp_threads == 0
    net = GLENetwork(2, [Layer(3, tau_m=1 * ms)], dt=0.1 * ms, device='cpp_standalone')     # small: one thread
    assert net.runner.threads == 1


def test_code_objects_include_one_precompiled_header(tmp_path, monkeypatch):
    """Every code object includes the standard headers precompiled in the cache folder (gle_brian.compilation),
    dependencies are written while compiling; the results equal a build as Brian2's (the preference off, or no
    cache folder)."""
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    results, makefiles = [], []
    try:
        for name, precompiled in (('with', True), ('without', False)):
            prefs.gle_brian.precompiled_header = precompiled
            net = small_net('cpp_standalone', directory=str(tmp_path / name))
            net.run(*signals(0))
            results.append([net.trace('r', 1), *net.weights])
            makefiles.append((tmp_path / name / 'makefile').read_text())
            objects = glob.glob(str(tmp_path / name / 'code_objects' / '*.o'))
            assert objects and all(os.path.exists(path[:-2] + '.d') for path in objects)
            assert not (tmp_path / name / 'make.deps').exists()
    finally:
        prefs.gle_brian.precompiled_header = True
    header = re.search(r'^PCH = (\S+)$', makefiles[0], re.M).group(1)
    assert header.startswith(str(tmp_path / 'cache' / 'gle_brian' / 'precompiled_headers'))
    assert os.path.getsize(header + '.gch') > 1e6 and '-include $(PCH)' in makefiles[0]
    assert all('PCH' not in makefile for makefile in makefiles[1:])
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)
    (tmp_path / 'a_file').write_text('')
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'a_file'))     # no cache folder: compiled as Brian2's
    assert compilation.precompiled_header('-O0') == ''
