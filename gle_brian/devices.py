"""Code-generation targets: choosing one, and the settings of each (CUDA's toolkit and GPU).

Runtime targets (``'numpy'``, ``'cython'``) run inside Python. Standalone targets (``'cpp_standalone'``,
``'cuda_standalone'``) generate and compile a project once and rerun its binary (:mod:`gle_brian.standalone`).
Brian2 holds one standalone device per process: the project that holds it (:func:`holder`) is closed when a
standalone device is activated again. Runtime networks may be built and run in between: every network selects its
own device again before it touches Brian2 (:func:`activate`, :func:`restoring`), so a standalone network and runtime
networks can be used alternately.

``'cuda_standalone'`` (brian2cuda) needs the CUDA toolkit's ``nvcc`` to compile and an NVIDIA GPU to run;
:func:`configure_cuda` sets its preferences. Without a GPU, a project can still be generated and
compiled for a given compute capability (running it raises :class:`GLEDeviceError`).

Example::

    >>> from gle_brian.devices import check_device
    >>> check_device('cpp_standalone')
    'cpp_standalone'
"""
import contextlib
import glob
import os
import shutil
import subprocess
import tempfile

import numpy as np

from brian2 import prefs, set_device
from brian2.devices import get_device
from brian2.devices.device import all_devices

from .errors import GLEDeviceError

__all__ = ['DEVICES', 'RUNTIME_DEVICES', 'STANDALONE_DEVICES', 'check_device', 'activate', 'restoring', 'hold',
           'holder', 'float_type', 'user_directory', 'all_objects', 'configure_cuda', 'gpu_available']

RUNTIME_DEVICES = ('numpy', 'cython')
STANDALONE_DEVICES = ('cpp_standalone', 'cuda_standalone')
DEVICES = RUNTIME_DEVICES + STANDALONE_DEVICES

_holder = None            # the StandaloneProject that holds the (single) standalone device
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


def hold(project):
    """Record ``project`` (a :class:`~gle_brian.standalone.StandaloneProject`) as the holder of the standalone device:
    it is closed when a standalone device is activated again (:func:`activate`)."""
    global _holder
    _holder = project


def holder():
    """The :class:`~gle_brian.standalone.StandaloneProject` that holds the standalone device, or ``None``."""
    return _holder


def activate(device):
    """Make ``device`` Brian2's active device; call before creating the Brian2 objects of a network.

    For standalone devices this resets the device, closing any project built earlier in this process.
    A standalone network selects its device again with :meth:`StandaloneProject.activate
    <gle_brian.standalone.StandaloneProject.activate>`.
    """
    global _holder
    check_device(device)
    if device in RUNTIME_DEVICES:
        if get_device() is not all_devices['runtime']:
            set_device('runtime')
        prefs.codegen.target = device
    else:
        if device == 'cuda_standalone' and not _cuda_configured:
            configure_cuda()
        brian_device = all_devices[device]
        if _holder is not None:
            _holder.close()
        brian_device.reinit()
        set_device(brian_device, build_on_run=False)
        _holder = None
