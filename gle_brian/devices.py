"""Code-generation targets: choosing one, building a standalone project once and running it many times.

Runtime targets (``'numpy'``, ``'cython'``) run inside Python. Standalone targets (``'cpp_standalone'``,
``'cuda_standalone'``) generate and compile a project once; every later call of
:meth:`StandaloneProject.run` reruns the same binary with new inputs and the current state given as
``run_args``, so training over many samples never recompiles. Brian2 holds one standalone device per
process: building a second standalone network closes the first (using it afterwards raises an error).

Example::

    >>> from gle_brian.devices import check_device
    >>> check_device('cpp_standalone')
    'cpp_standalone'
"""
import os
import tempfile

from brian2 import prefs, set_device
from brian2.devices import get_device
from brian2.devices.device import all_devices

from .errors import GLEDeviceError

__all__ = ['DEVICES', 'RUNTIME_DEVICES', 'STANDALONE_DEVICES', 'check_device', 'activate', 'StandaloneProject',
           'builds_in_process']

RUNTIME_DEVICES = ('numpy', 'cython')
STANDALONE_DEVICES = ('cpp_standalone', 'cuda_standalone')
DEVICES = RUNTIME_DEVICES + STANDALONE_DEVICES

_build_count = 0          # standalone projects compiled in this process
_active_project = None   # the StandaloneProject that owns the (single) standalone device


def check_device(device):
    """Return ``device`` if it is a known target, else raise :class:`GLEDeviceError`."""
    if device not in DEVICES:
        raise GLEDeviceError(f'device={device!r} is not a code-generation target; use one of {list(DEVICES)}.')
    if device == 'cuda_standalone':
        try:
            import brian2cuda  # noqa: F401  (registers the 'cuda_standalone' device)
        except ImportError:
            raise GLEDeviceError("device='cuda_standalone' needs brian2cuda: install it with "
                                 "pip install -e '.[cuda]' (brian2cuda 1.0b1), or pick 'cpp_standalone'.") from None
    return device


def activate(device):
    """Make ``device`` Brian2's active device; call before creating the Brian2 objects of a network.

    For standalone devices this resets the device, closing any project built earlier in this process.
    """
    global _active_project
    check_device(device)
    if device in RUNTIME_DEVICES:
        if get_device() is not all_devices['runtime']:
            set_device('runtime')
        prefs.codegen.target = device
    else:
        brian_device = all_devices[device]
        brian_device.reinit()
        set_device(brian_device, build_on_run=False)
        _active_project = None


class StandaloneProject:
    """A compiled standalone project that is built once and run many times.

    Parameters
    ----------
    device : str
        ``'cpp_standalone'`` or ``'cuda_standalone'``.
    directory : str or None
        Where the project is generated; a fresh temporary folder when ``None``.
    """

    def __init__(self, device, directory=None):
        global _active_project
        self.device = device
        self.directory = directory or tempfile.mkdtemp(prefix=f'gle_brian_{device}_')
        self.built = False
        self.builds = 0
        _active_project = self

    def check_active(self):
        """Raise a clear error when another standalone network has replaced this one in this process."""
        if _active_project is not self:
            raise GLEDeviceError(
                f'this {self.device} network was closed because another standalone network was built in the '
                'same process afterwards (Brian2 holds one standalone device per process); rebuild it, or use '
                "device='cython' for several networks at once.")

    def build(self):
        """Generate and compile the project (once)."""
        global _build_count
        self.check_active()
        get_device().build(directory=self.directory, compile=True, run=False, with_output=False)
        self.built = True
        self.builds += 1
        _build_count += 1

    def run(self, run_args):
        """Run the compiled binary with ``run_args`` (a dict ``{VariableView or TimedArray: values}``)."""
        self.check_active()
        get_device().run(directory=self.directory, with_output=False, run_args=run_args)

    @property
    def binary(self):
        """Path of the compiled executable."""
        return os.path.join(self.directory, 'main')


def builds_in_process():
    """How many standalone projects this process has compiled (tests use it to count builds)."""
    return _build_count
