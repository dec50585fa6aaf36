"""Code-generation targets: choosing one, building a standalone project once and running it many times.

Runtime targets (``'numpy'``, ``'cython'``) run inside Python. Standalone targets (``'cpp_standalone'``,
``'cuda_standalone'``) generate and compile a project once; every later call of
:meth:`StandaloneProject.run` reruns the same binary with new inputs and the current state given as
``run_args``, so training over many samples never recompiles. Brian2 holds one standalone device per
process: building a second standalone network closes the first (using it afterwards raises an error).
Runtime networks may be built and run in between: every network selects its own device again before it
touches Brian2, so a standalone network and runtime networks can be used alternately.

``'cuda_standalone'`` (brian2cuda) needs the CUDA toolkit's ``nvcc`` to compile and an NVIDIA GPU to run;
:func:`configure_cuda` sets its preferences. Without a GPU, a project can still be generated and
compiled for a given compute capability (running it raises :class:`GLEDeviceError`).

Example::

    >>> from gle_brian.devices import check_device
    >>> check_device('cpp_standalone')
    'cpp_standalone'
"""
import atexit
import contextlib
import gc
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time

import numpy as np

from brian2 import Network, TimedArray, prefs, set_device
from brian2.devices import get_device
from brian2.devices.cpp_standalone import device as cpp_device_module
from brian2.devices.device import all_devices
from brian2.utils.logger import get_logger

from .errors import GLEDeviceError
from .results import lock_folder

logger = get_logger(f'brian2.{__name__}')   # Brian2's handlers show and file it

__all__ = ['DEVICES', 'RUNTIME_DEVICES', 'STANDALONE_DEVICES', 'check_device', 'activate', 'restoring',
           'float_type', 'user_directory', 'all_objects', 'configure_cuda',
           'gpu_available', 'StandaloneProject', 'builds_in_process']

RUNTIME_DEVICES = ('numpy', 'cython')
STANDALONE_DEVICES = ('cpp_standalone', 'cuda_standalone')
DEVICES = RUNTIME_DEVICES + STANDALONE_DEVICES

_build_count = 0          # standalone projects compiled in this process
_active_project = None   # the StandaloneProject that owns the (single) standalone device
_cuda_configured = False  # whether configure_cuda() has set brian2cuda's preferences in this process

#: nvcc flags of CUDA projects: brian2cuda's defaults, plus C++17 (CUDA 13's Thrust/CUB require it)
CUDA_NVCC_FLAGS = ('-w', '-use_fast_math', '-std=c++17')


def check_device(device):
    """Return ``device`` if it is a known target, else raise :class:`GLEDeviceError`."""
    if device not in DEVICES:
        raise GLEDeviceError(f'device={device!r} is not a code-generation target; use one of {list(DEVICES)}.')
    if device == 'cuda_standalone':
        try:
            import brian2cuda  # noqa: F401  (registers the 'cuda_standalone' device)
        except ImportError:
            raise GLEDeviceError("device='cuda_standalone' needs brian2cuda: install it with "
                                 "pip install -e '.[cuda]' (brian2cuda 1.0b1 and nvidia-curand), "
                                 "or pick 'cpp_standalone'.") from None
    return device


def gpu_available():
    """Whether an NVIDIA GPU and its driver are visible on this machine (``nvidia-smi -L`` lists one)."""
    try:
        listing = subprocess.run(['nvidia-smi', '-L'], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return listing.lstrip().startswith('GPU ')


def configure_cuda(compute_capability=None):
    """Set brian2cuda's preferences for ``device='cuda_standalone'`` on this machine.

    :class:`~gle_brian.GLENetwork` calls it with the defaults unless it was called before. It finds the
    CUDA toolkit from ``$CUDA_PATH`` or the ``nvcc`` on the ``PATH``, reads the toolkit's version, finds
    cuRAND (in the toolkit, else in the ``nvidia-curand`` wheel) and compiles with C++17. GPU detection by
    brian2cuda is switched off: the project runs on the first visible GPU (``CUDA_VISIBLE_DEVICES``).
    The host C++ standard becomes C++17 for every C++ target of the process.

    Parameters
    ----------
    compute_capability : float or None
        GPU architecture to compile for, e.g. ``9.0`` (H100, H200) or ``8.0`` (A100). ``None`` reads it
        from the first GPU with ``nvidia-smi``; give it to compile on a machine without a GPU.

    Example::

        >>> configure_cuda(compute_capability=9.0)   # compile for H100/H200 GPUs     # doctest: +SKIP
    """
    global _cuda_configured
    check_device('cuda_standalone')
    from brian2cuda.utils import gputools

    cuda_path = _cuda_path()
    version = _cuda_version(cuda_path)
    curand = _curand_dirs(cuda_path)
    if compute_capability is None:
        compute_capability = _detected_compute_capability()
    backend = prefs.devices.cuda_standalone.cuda_backend
    backend.detect_gpus = False
    backend.gpu_id = 0
    backend.compute_capability = float(compute_capability)
    backend.cuda_path = cuda_path
    backend.cuda_runtime_version = version
    backend.extra_compile_args_nvcc = list(CUDA_NVCC_FLAGS)   # a new list: brian2cuda edits it while building
    host_flags = prefs.codegen.cpp.extra_compile_args_gcc
    prefs.codegen.cpp.extra_compile_args_gcc = [f for f in host_flags if not f.startswith('-std=')] + ['-std=c++17']
    if curand is not None:
        include_dir, library_dir, link_dir = curand
        _add_pref('codegen.cpp.include_dirs', include_dir)
        _add_pref('codegen.cpp.library_dirs', link_dir)
        _add_pref('codegen.cpp.runtime_library_dirs', library_dir)
    gputools.reset_cuda_installation()   # brian2cuda caches what it detected before
    gputools.reset_gpu_selection()
    _cuda_configured = True


def _cuda_path():
    """The CUDA toolkit folder: ``$CUDA_PATH``, else the folder above the ``bin/`` holding ``nvcc``."""
    cuda_path = os.environ.get('CUDA_PATH')
    if cuda_path and os.path.isfile(os.path.join(cuda_path, 'bin', 'nvcc')):
        return cuda_path
    nvcc = shutil.which('nvcc')
    if nvcc is None:
        raise GLEDeviceError("device='cuda_standalone' compiles with nvcc, which is not on the PATH: install the "
                             'CUDA toolkit (12 or 13) and add its bin/ folder to the PATH, or set CUDA_PATH '
                             "to the toolkit folder; or pick device='cpp_standalone'.")
    return os.path.dirname(os.path.dirname(os.path.realpath(nvcc)))


def _cuda_version(cuda_path):
    """The toolkit release as a float (e.g. ``13.0``), from ``nvcc --version``."""
    output = subprocess.run([os.path.join(cuda_path, 'bin', 'nvcc'), '--version'], capture_output=True,
                            text=True, timeout=60).stdout
    for line in output.splitlines():
        if 'release' in line:   # "Cuda compilation tools, release 13.0, V13.0.88"
            return float(line.split('release')[1].split(',')[0])
    raise GLEDeviceError(f'could not read the CUDA version from {cuda_path}/bin/nvcc --version; '
                         'check the CUDA toolkit installation (or set CUDA_PATH).')


def _detected_compute_capability():
    """Compute capability of the first GPU, from ``nvidia-smi``."""
    try:
        output = subprocess.run(['nvidia-smi', '--query-gpu=compute_cap', '--format=csv,noheader'],
                                capture_output=True, text=True, timeout=60).stdout
        return float(output.split()[0])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        raise GLEDeviceError('no NVIDIA GPU found (nvidia-smi lists none) to read the compute capability from; '
                             'to compile without a GPU, call gle_brian.devices.configure_cuda(compute_capability=9.0) '
                             '(the GPU that will run it: 9.0 for H100/H200, 8.0 for A100) before building.') from None


def _curand_dirs(cuda_path):
    """``(include, library, link)`` folders of cuRAND from the nvidia-curand wheel; ``None`` if the toolkit has it.

    The wheel ships ``libcurand.so.10`` only; ``link`` is a folder with the ``libcurand.so`` that ``-lcurand``
    looks for.
    """
    if glob.glob(os.path.join(cuda_path, 'include', 'curand.h')) + \
            glob.glob(os.path.join(cuda_path, 'targets', '*', 'include', 'curand.h')):
        return None
    try:
        import nvidia
        headers = [h for root in nvidia.__path__
                   for h in sorted(glob.glob(os.path.join(root, '*', 'include', 'curand.h')))]
    except ImportError:
        headers = []
    if not headers:
        raise GLEDeviceError(f'the CUDA toolkit in {cuda_path} has no cuRAND, which brian2cuda links: install it '
                             "with pip install nvidia-curand (part of pip install -e '.[cuda]').")
    root = os.path.dirname(os.path.dirname(headers[0]))
    library_dir = os.path.join(root, 'lib')
    if os.path.exists(os.path.join(library_dir, 'libcurand.so')):
        return os.path.join(root, 'include'), library_dir, library_dir
    libraries = sorted(glob.glob(os.path.join(library_dir, 'libcurand.so.*')))
    if not libraries:
        raise GLEDeviceError(f'no libcurand.so.* in {library_dir}; reinstall nvidia-curand.')
    link_dir = os.path.join(tempfile.gettempdir(), f'gle_brian_curand_{os.getuid()}')
    os.makedirs(link_dir, exist_ok=True)
    link = os.path.join(link_dir, 'libcurand.so')
    if os.path.realpath(link) != os.path.realpath(libraries[0]):
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(libraries[0], link)
    return os.path.join(root, 'include'), library_dir, link_dir


def _add_pref(name, folder):
    if folder not in prefs[name]:
        prefs[name] = prefs[name] + [folder]


def all_objects(network):
    """Every Brian2 object of ``network``: those added to it and, recursively, the objects they contain."""
    found, todo = {}, list(network.objects)
    while todo:
        obj = todo.pop()
        if id(obj) not in found:
            found[id(obj)] = obj
            todo.extend(obj.contained_objects)
    return list(found.values())


@contextlib.contextmanager
def float_type(dtype):
    """Brian2's default float type set to ``dtype`` inside the block, restored afterwards."""
    previous = prefs.core.default_float_dtype
    prefs.core.default_float_dtype = dtype
    # Brian2 compares float32 states with 1e50 before each run, which numpy warns of as an overflow;
    # genuine overflows are reported by the NaN watch
    try:
        with np.errstate(over='ignore' if np.dtype(dtype) == np.float32 else None):
            yield
    finally:
        prefs.core.default_float_dtype = previous


def user_directory(device):
    """The ``directory`` the user gave Brian2's ``set_device`` for the standalone ``device``, or ``None``."""
    if device not in STANDALONE_DEVICES or device not in all_devices:
        return None
    return (getattr(all_devices[device], 'build_options', None) or {}).get('directory')


@contextlib.contextmanager
def restoring():
    """Inside the block a network may select its own device; afterwards Brian2's device (with its build options)
    and code-generation target are those of before: a network never changes the user's session."""
    device, target = get_device(), prefs.codegen.target
    build_on_run, options = getattr(device, 'build_on_run', True), dict(getattr(device, 'build_options', {}) or {})
    try:
        yield
    finally:
        if get_device() is not device:
            set_device(device, build_on_run=build_on_run, **options)
        else:                                    # selected again by the network: its options as they were
            device.build_on_run, device.build_options = build_on_run, options
        prefs.codegen.target = target


def activate(device):
    """Make ``device`` Brian2's active device; call before creating the Brian2 objects of a network.

    For standalone devices this resets the device, closing any project built earlier in this process.
    A standalone network selects its device again with :meth:`StandaloneProject.activate`.
    """
    global _active_project
    check_device(device)
    if device in RUNTIME_DEVICES:
        if get_device() is not all_devices['runtime']:
            set_device('runtime')
        prefs.codegen.target = device
    else:
        if device == 'cuda_standalone' and not _cuda_configured:
            configure_cuda()
        brian_device = all_devices[device]
        if _active_project is not None:
            _active_project.close()
        brian_device.reinit()
        set_device(brian_device, build_on_run=False)
        _active_project = None


def _tail(text, lines=20):
    """The last ``lines`` lines of ``text``, indented, for error messages."""
    return '\n'.join('    ' + line for line in text.rstrip().splitlines()[-lines:]) or '    (nothing)'


def _interrupted(returncode):
    """Whether a child process ended because of Ctrl-C: killed by SIGINT, or a shell's exit status 130."""
    return returncode in (-signal.SIGINT, 128 + signal.SIGINT)


def _keep_temporary():
    """Whether temporary project folders are kept at exit (environment variable ``GLE_BRIAN_KEEP_PROJECTS=1``, e.g.
    to inspect the generated code)."""
    return os.environ.get('GLE_BRIAN_KEEP_PROJECTS') == '1'


class StandaloneProject:
    """A compiled standalone project that is built once and run many times.

    Parameters
    ----------
    device : str
        ``'cpp_standalone'`` or ``'cuda_standalone'``.
    directory : str or None
        Where the project is generated; a fresh temporary folder when ``None`` (removed when Python exits, unless
        ``GLE_BRIAN_KEEP_PROJECTS=1``). The folder is locked for this process: another process's project in it
        is a clear error.

    Set ``compile = False`` before the first run to only generate the code (to inspect it, or to check
    code generation on a machine without the compiler or GPU); the run after the build then fails.

    Failures raise :class:`GLEDeviceError` naming the project folder, with the end of the compiler's or
    the program's output; Ctrl-C while compiling or running raises ``KeyboardInterrupt``. After a failed
    or interrupted build every run refuses: the network must be built again.
    """

    compile = True

    def __init__(self, device, directory=None):
        global _active_project
        self.device = device
        self.directory = directory or tempfile.mkdtemp(prefix=f'gle_brian_{device}_')
        if directory is None and not _keep_temporary():      # a fresh folder is removed when Python exits
            atexit.register(shutil.rmtree, self.directory, True)
        try:
            self._lock = lock_folder(self.directory, 'project folder', 'give this network another directory=..., or '
                                     'wait until that process has ended')
        except (OSError, RuntimeError) as error:
            raise GLEDeviceError(str(error)) from None
        self.built = False       # generated and compiled: the binary can run
        self.builds = 0
        self._inputs = set()     # the input files of the last run (kept for the next, see _keep_inputs)
        self._results = None     # the folder the runs after the first write their results into
        self.gpu_found = False   # cuda_standalone: a GPU was seen before the first run
        self.network = None      # the Brian2 Network generated into this project (set by its GLENetwork)
        _active_project = self

    def close(self):
        """Give up the device to a newer network: drop the code objects of this project's network.

        Brian2 names code objects ``<owner>_codeobject``, with a number added while an object of that name
        is alive; once these are gone, a network built again the same way generates the same code and its
        build in the same folder reuses the compiled files.
        """
        if self._lock is not None:      # the folder is free for a network built again in it
            self._lock.close()
            self._lock = None
        if self._memory is not None:
            shutil.rmtree(self._memory, ignore_errors=True)
        if self.network is not None:
            for owner in all_objects(self.network):
                owner._code_objects = []
                if hasattr(owner, 'codeobj'):
                    owner.codeobj = None
            gc.collect()

    def activate(self):
        """Select this project's device again (e.g. after a runtime network ran), without resetting it.

        Raises a clear error when another standalone network has replaced this one in this process.
        """
        if _active_project is not self:
            raise GLEDeviceError(
                f'this {self.device} network was closed because another standalone network was built in the '
                'same process afterwards (Brian2 holds one standalone device per process); rebuild it, or use '
                "device='cython' for several networks at once.")
        brian_device = all_devices[self.device]
        if get_device() is not brian_device:
            set_device(brian_device, build_on_run=False)

    def build(self):
        """Generate and compile the project (once)."""
        global _build_count
        self.activate()
        logger.debug(f'generating the {self.device} project in {self.directory}')
        device = get_device()
        device.build(directory=self.directory, compile=False, run=False, with_output=False)
        # the initial values are in the project's files now: Brian2 keeps a copy of each (the weights, say) for
        # nothing but their names afterwards
        device.static_arrays = dict.fromkeys(device.static_arrays, np.empty(0))
        if self.compile:
            started = time.perf_counter()
            self._make()
            logger.debug(f'compiled the {self.device} project in {self.directory} in '
                        f'{time.perf_counter() - started:.1f} s')
            self.built = True
            self.builds += 1
            _build_count += 1

    def _make(self):
        """Compile the generated project with Brian2's make command (``prefs.devices.cpp_standalone``)."""
        settings = prefs.devices.cpp_standalone
        command = ' '.join([settings.make_cmd_unix, *settings.extra_make_args_unix])
        result = subprocess.run(command, shell=True, cwd=self.directory, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        if _interrupted(result.returncode):
            raise KeyboardInterrupt
        if result.returncode:
            raise GLEDeviceError(f'compiling the {self.device} project in {self.directory} failed ({command!r} '
                                 f'exited with {result.returncode}); its output ended with:\n{_tail(result.stdout)}\n'
                                 'Fix the cause (compiler, preferences, disk space) and build the network again.')

    def run(self, run_args, environment=None):
        """Run the compiled binary with ``run_args`` (a dict ``{VariableView or TimedArray: values}``) and the
        environment variables ``environment`` (a dict; removed from this process's environment afterwards).

        The first run writes its results into the project's ``results`` folder; the later runs into a folder in
        memory where there is one with room (``prefs.gle_brian.results_in_memory``; :attr:`results`)."""
        self.activate()
        if not self.built:
            raise GLEDeviceError(f'the {self.device} project in {self.directory} has no compiled program: its build '
                                 'failed, was interrupted, or only generated the code (StandaloneProject.compile = '
                                 'False); build the network again.')
        if self.device == 'cuda_standalone' and not self.gpu_found:
            if not gpu_available():
                raise GLEDeviceError(f'the CUDA project in {self.directory} cannot run here: this machine has no '
                                     'NVIDIA GPU (nvidia-smi lists none); run it on a machine with a GPU and its '
                                     "driver, or use device='cpp_standalone'.")
            self.gpu_found = True
        device = get_device()
        Network._globally_stopped = False   # set by Brian2's Ctrl-C handler while the program runs
        if self._results is not None:
            device.results_dir = os.path.join(self._results, '')
        results = device.results_dir.rstrip(os.sep)
        previous, failed = _set_aside(results), True
        environment, own = dict(environment or {}), device.run_environment_variables
        device.run_environment_variables = {**own, **environment}
        try:
            with _quick_run_args(device, run_args, self._memory and self.inputs):
                device.run(directory=self.directory, with_output=False, run_args=run_args)
            failed = False
        except RuntimeError:
            pass
        finally:
            for name in environment:        # Brian2 leaves them in os.environ
                os.environ.pop(name, None)
            device.run_environment_variables = own
            Network._globally_running = False   # Brian2 leaves it set when a second Ctrl-C ends the wait
            self._keep_inputs(device.run_args_arrays)
            output = _settle_results(results, previous, failed)
        if self._results is None and not failed:
            self._results = _results_in_memory(results)
            device.results_dir = os.path.join(self._results, '')
        if Network._globally_stopped:   # Ctrl-C: Brian2 stopped the program early, or it was killed
            Network._globally_stopped = False
            raise KeyboardInterrupt
        if failed:
            text = open(output).read() if os.path.exists(output) else ''
            raise GLEDeviceError(f'running the compiled {self.device} project in {self.directory} failed; its output '
                                 f'({output}) ended with:\n{_tail(text)}\nCheck memory and disk space, or build the '
                                 'network again.')

    def _keep_inputs(self, names):
        """Keep the input files of this run (``names`` in :attr:`inputs`) and remove those of the run before that this
        run did not use: a long training would fill the disk, while a file that the next run uses again (Brian2 names
        each by a hash of its values: the weights of a test pass, the state every run of ``evaluate`` starts from)
        is not written again."""
        for name in self._inputs.difference(names):
            for path in (os.path.join(self.directory, 'static_arrays', name + suffix) for suffix in ('', '.lock')):
                if os.path.exists(path):
                    os.remove(path)
        self._inputs = set(names)

    @property
    def _memory(self):
        """The folder in memory that holds the later runs' results and inputs, or None."""
        if self._results is None or self._results.startswith(self.directory):
            return None
        return os.path.dirname(self._results)

    @property
    def inputs(self):
        """The folder of the runs' input files (their state, input and target): the project's ``static_arrays``, or
        after the first run a folder in memory beside :attr:`results` (where those are in memory)."""
        return os.path.join(self._memory, 'inputs') if self._memory else os.path.join(self.directory, 'static_arrays')

    @property
    def results(self):
        """The folder of the last run's results (the arrays the binary wrote, its ``stdout.txt``)."""
        return self._results or os.path.join(self.directory, 'results')

    @property
    def binary(self):
        """Path of the compiled executable."""
        return os.path.join(self.directory, 'main')

    @property
    def brian_device(self):
        """Brian2's device object of this project (its ``timers``, ``_last_run_time``: the simulation loop of the
        last run, in seconds, measured by the binary)."""
        return all_devices[self.device]


#: a folder in memory (tmpfs) for the results of the runs, where there is one
MEMORY_FOLDER = '/dev/shm'
#: results larger than this (bytes) stay on the disk: the time saved is in creating files, not in writing bytes
MEMORY_RESULTS_LIMIT = 1e9


def _results_in_memory(results):
    """The folder the later runs write their results into: the first run's ``results`` copied into a new folder in
    memory (:data:`MEMORY_FOLDER`, removed when Python exits), where ``prefs.gle_brian.results_in_memory``, the
    results are at most :data:`MEMORY_RESULTS_LIMIT` and the folder has room for four times them, and projects are
    not kept for inspection (``GLE_BRIAN_KEEP_PROJECTS=1``); else ``results``.
    A binary writes some 300 files a run (every array), which took 0.3-1 ms each on the disks of this project's
    machines and 0.02-0.06 ms in memory (bench/RESULTS.md, "Work a run skips")."""
    if not prefs.gle_brian.results_in_memory or not os.path.isdir(MEMORY_FOLDER) or _keep_temporary():
        return results        # (projects kept for inspection keep their results)
    size = sum(entry.stat().st_size for entry in os.scandir(results) if entry.is_file())
    folder = None
    try:
        if size > MEMORY_RESULTS_LIMIT or 4 * size > shutil.disk_usage(MEMORY_FOLDER).free:
            return results
        _remove_orphans()
        folder = tempfile.mkdtemp(prefix=f'gle_brian_results_{os.getpid()}_', dir=MEMORY_FOLDER)
        shutil.copytree(results, os.path.join(folder, 'results'))
        os.mkdir(os.path.join(folder, 'inputs'))     # the later runs' input files
    except OSError:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        return results
    atexit.register(shutil.rmtree, folder, True)
    shutil.rmtree(results, ignore_errors=True)
    return os.path.join(folder, 'results')


def _remove_orphans():
    """Remove the results folders in memory of processes that ended without removing theirs (killed)."""
    for folder in glob.glob(os.path.join(MEMORY_FOLDER, 'gle_brian_results_*_*')):
        pid = os.path.basename(folder).split('_')[3]
        try:
            os.kill(int(pid), 0)          # raises ProcessLookupError when no process has that number
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, OSError):     # not a number, or another user's process
            pass


def _set_aside(results):
    """Move the last run's result folder aside (to ``<results>.previous``) before the binary writes a new one, and
    return that path: writing new files is quick, while rewriting existing ones makes ext4 flush each to the disk
    first (its ``auto_da_alloc``; LagLine's binary run: 38 ms -> 22 ms, bench/RESULTS.md, "Passing the state to
    the binary")."""
    previous = results + '.previous'
    shutil.rmtree(previous, ignore_errors=True)
    if os.path.isdir(results):
        os.rename(results, previous)
    return previous


def _settle_results(results, previous, failed):
    """After a run: keep its results and drop the last run's; after a failed run (or one stopped before it wrote
    its results) put the last run's back, so its recordings stay readable, and keep the failed run's folder as
    ``<results>.failed``. Returns the path of the run's ``stdout.txt``."""
    complete = not failed and os.path.exists(os.path.join(results, 'last_run_info.txt'))
    if complete or not os.path.isdir(previous):
        shutil.rmtree(previous, ignore_errors=True)
        return os.path.join(results, 'stdout.txt')
    kept = results + '.failed'
    shutil.rmtree(kept, ignore_errors=True)
    if os.path.isdir(results):
        os.rename(results, kept)
    os.rename(previous, results)
    return os.path.join(kept, 'stdout.txt')


class _NoLock:
    """Stands in for Brian2's lock of each run_args file: this process holds the whole project folder."""

    def __init__(self, path):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@contextlib.contextmanager
def _quick_run_args(device, run_args, folder=None):
    """Inside the block, Brian2's ``device.run`` passes ``run_args`` without its per-file locks (and their debug
    log records; the project folder is locked by this process) and without its search of the whole array cache
    for each argument; afterwards the cached values of the variables set by ``run_args`` are invalidated as Brian2
    does it, in one pass. A MNIST-1D run of 100 samples at batch 100 passes 150 arguments: 0.59-0.65 s -> 0.43 s
    per run (bench/RESULTS.md, "Passing the state to the binary"). With a ``folder``, the files of the arguments
    are written there (by their absolute paths) instead of into the project's ``static_arrays``."""
    names = {f'{key.name}.values' if isinstance(key, TimedArray) else f'{key.group_name}.{key.name}'
             for key in run_args}
    cache, lock = device.array_cache, cpp_device_module.FileLock
    device.array_cache, cpp_device_module.FileLock = {}, _NoLock
    if folder is not None:
        for method in ('_prepare_variableview_run_arg', '_prepare_timed_array_run_arg'):
            setattr(device, method, _in_folder(getattr(device, method), folder))
    try:
        yield
    finally:
        for method in ('_prepare_variableview_run_arg', '_prepare_timed_array_run_arg'):
            device.__dict__.pop(method, None)
        written, device.array_cache, cpp_device_module.FileLock = device.array_cache, cache, lock
        for var in cache:
            try:
                if hasattr(var.owner, 'name') and f'{var.owner.name}.{var.name}' in names:
                    cache[var] = None
            except ReferenceError:      # the owner of a variable of an ephemeral subgroup is gone
                pass
        cache.update(written)


def _in_folder(prepare, folder):
    """Brian2's preparation of a run argument with its file in ``folder``: Brian2 joins the name to the project's
    ``static_arrays`` folder, which an absolute path replaces, and the binary opens the path it is given."""
    def prepare_in_folder(key, value):
        name, text, file_name, values = prepare(key, value)
        if file_name is None:        # a single value, given on the command line
            return name, text, file_name, values
        path = os.path.join(folder, file_name)
        return name, path, path, values
    return prepare_in_folder


def builds_in_process():
    """How many standalone projects this process has compiled (tests use it to count builds)."""
    return _build_count
