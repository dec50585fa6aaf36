"""The brian2cuda target: selecting it, and generating and compiling a CUDA project without a GPU.

The compile test needs brian2cuda (``pip install -e '.[cuda]'``) and the CUDA toolkit's ``nvcc``. It is part
of the default run; ``pytest -m cuda`` runs it alone. Without a GPU it compiles the generated sources as one
translation unit, with the makefile's flags (``tests/nvcc_one_unit.py``: about 30 s, where brian2cuda's
makefile, one file at a time, takes about 5 minutes of CPU parsing Thrust's headers for each of ~20 files).
Where a GPU is visible it builds with brian2cuda's makefile, runs the network and compares it with the numpy
mirror of the reference step.
"""
import importlib.util
import os
import shlex
import shutil
import sys

import numpy as np
import pytest
from brian2 import ms, prefs

from gle_brian import Adam, GLEDeviceError, GLEGraph, GLENetwork, Layer, Learning, Projection, devices
from gle_brian.reference import VARIABLES
from mirror import assert_equals_mirror
from test_graph import mirror

DT = 0.01 * ms
HAVE_BRIAN2CUDA = importlib.util.find_spec('brian2cuda') is not None
HAVE_NVCC = shutil.which('nvcc') is not None or os.path.isfile(os.path.join(os.environ.get('CUDA_PATH', ''),
                                                                             'bin', 'nvcc'))


def small_layers():
    """A tanh layer of 3 with per-neuron (mixed) time constants and nudging, so errors flow down (the feedback
    sums), and a linear output of 2: a 2-3-2 network, or the first and last populations of the compiled graph."""
    rng = np.random.default_rng(0)
    return [Layer(3, 'tanh', tau_m=rng.uniform(0.5, 2, 3) * ms, tau_r=rng.uniform(0.05, 0.5, 3) * ms, gamma=0.3),
            Layer(2, 'linear', tau_m=1 * ms)]


@pytest.fixture
def cuda_prefs(monkeypatch):
    """Brian2 preferences and the configured flag restored after the test (configure_cuda changes both)."""
    prefs._backup()
    monkeypatch.setattr(devices, '_cuda_configured', False)
    yield
    prefs._restore()


def test_cuda_without_brian2cuda_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, 'brian2cuda', None)      # `import brian2cuda` now fails
    with pytest.raises(GLEDeviceError, match=r"needs brian2cuda: install it with pip install -e '\.\[cuda\]'"):
        GLENetwork(2, small_layers(), dt=DT, device='cuda_standalone')
    with pytest.raises(GLEDeviceError, match='needs brian2cuda'):
        devices.configure_cuda(compute_capability=9.0)


@pytest.mark.skipif(not HAVE_BRIAN2CUDA, reason="brian2cuda is not installed (pip install -e '.[cuda]')")
def test_cuda_without_nvcc_or_gpu(monkeypatch, tmp_path, cuda_prefs):
    toolkit = devices._cuda_path() if HAVE_NVCC else None
    monkeypatch.delenv('CUDA_PATH', raising=False)
    monkeypatch.setenv('PATH', str(tmp_path))                # neither nvcc nor nvidia-smi on the PATH
    with pytest.raises(GLEDeviceError, match='nvcc, which is not on the PATH: install the CUDA toolkit'):
        GLENetwork(2, small_layers(), dt=DT, device='cuda_standalone')
    if toolkit is not None:
        monkeypatch.setenv('CUDA_PATH', toolkit)
        with pytest.raises(GLEDeviceError, match=r'no NVIDIA GPU found .*configure_cuda\(compute_capability=9\.0\)'):
            devices.configure_cuda()
    assert not devices._cuda_configured


@pytest.mark.cuda
@pytest.mark.skipif(not HAVE_BRIAN2CUDA, reason="brian2cuda is not installed (pip install -e '.[cuda]')")
@pytest.mark.skipif(not HAVE_NVCC, reason='nvcc is not on the PATH (install the CUDA toolkit or set CUDA_PATH)')
def test_cuda_project_compiles(tmp_path, cuda_prefs):
    """Generate and compile the CUDA project for compute capability 9.0; run it only where a GPU is visible.

    One small graph with every kind of kernel: dense projections (their basal, apical and gradient functions),
    a sparse, sign-constrained one (Brian2 Synapses: summed basal and apical inputs, the drive summed over the
    batch into the weight group), two projections converging on the output (their shares added up), Adam on W, b
    and tau_m with batch sums, an output error, and monitors.
    """
    gpu = devices.gpu_available()
    devices.configure_cuda(compute_capability=None if gpu else 9.0)
    if not gpu:   # the sources as one unit (restored by cuda_prefs)
        one_unit = os.path.join(os.path.dirname(__file__), 'nvcc_one_unit.py')
        prefs.devices.cpp_standalone.make_cmd_unix = f'{shlex.quote(sys.executable)} {shlex.quote(one_unit)}'
        prefs.devices.cpp_standalone.extra_make_args_unix = []
    layers = small_layers()
    populations = {'hidden': layers[0], 'second': Layer(3, 'tanh', tau_m=0.5 * ms, tau_r=0.2 * ms), 'out': layers[1]}
    projections = [Projection('input', 'hidden'), Projection('hidden', 'second', connect='i != j', sign=+1),
                   Projection('second', 'out'), Projection('hidden', 'out')]
    kwargs = dict(dt=DT, loss='mse', beta=0.1, batch=2,
                  learning=Learning(Adam(lr=1e-2), tau_m=True, tau_m_min=0.05 * ms))
    net = GLEGraph(2, populations, projections, device='cuda_standalone', record=VARIABLES, seed=1,
                   directory=str(tmp_path / 'cuda'), **kwargs)
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(200, 2, 2)), rng.normal(size=(200, 2, 2))
    if gpu:
        ref = mirror(net, **kwargs)
        net.run(x, y)
        assert_equals_mirror(net, ref, ref.run(x, y), atol=1e-12, tau_m=True)
    else:
        with pytest.raises(GLEDeviceError, match='cannot run here: this machine has no NVIDIA GPU'):
            net.run(x, y)
    makefile = (tmp_path / 'cuda' / 'makefile').read_text()
    assert '-std=c++17' in makefile and ('-arch=sm_' if gpu else '-arch=sm_90') in makefile
    assert os.path.isfile(net.project.binary) and os.access(net.project.binary, os.X_OK)
    if not gpu:   # every generated source went into the unit (kernels of monitors, projections, neurons)
        unit = (tmp_path / 'cuda' / 'one_unit.cu').read_text()
        sources = sorted(p.name for p in (tmp_path / 'cuda' / 'code_objects').glob('*.cu'))
        assert len(sources) >= 15 and all(f'code_objects/{name}"' in unit for name in sources)
        kernels = ['projection_2_apical_codeobject', 'projection_2_gradient_codeobject',     # dense
                   'projection_1_synapses_summed_variable_I_apical_projection_1_pre_codeobject',   # Synapses
                   'projection_1_batch_sums_summed_variable_g_w_post_codeobject', 'hidden_apical_sum_codeobject',
                   'hidden_batch_sums_summed_variable_err_du_dt_sum_post_codeobject', 'record_hidden_codeobject']
        assert all(kernel in unit for kernel in kernels), [k for k in kernels if k not in unit]
