"""A standalone project built once and run many times: its build, its runs, and the folders of its files.

A :class:`StandaloneProject` generates and compiles the Brian2 standalone project of a network (``'cpp_standalone'``
or ``'cuda_standalone'``, selected by :func:`gle_brian.devices.activate`) on its first run; every later
:meth:`StandaloneProject.run` reruns the same binary with new inputs and the current state given as ``run_args``, so
training over many samples never recompiles. After the first run the binary's results and input files go into a
folder in memory where there is one with room (``prefs.gle_brian.results_in_memory``). Brian2 holds one standalone
device per process: building a second standalone network closes the first (using it afterwards raises an error).

Example::

    >>> from gle_brian.standalone import StandaloneProject
    >>> StandaloneProject.compile      # set False to only generate the code
    True
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

from . import devices
from .devices import all_objects, gpu_available
from .errors import GLEDeviceError
from .results import lock_folder

logger = get_logger(f'brian2.{__name__}')   # Brian2's handlers show and file it

__all__ = ['StandaloneProject', 'MEMORY_FOLDER', 'MEMORY_RESULTS_LIMIT', 'builds_in_process']

_build_count = 0          # standalone projects compiled in this process


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
        devices.hold(self)

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
        if devices.holder() is not self:
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
