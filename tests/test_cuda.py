"""The brian2cuda target: selecting it, and generating and compiling a CUDA project without a GPU.

The compile test needs brian2cuda (``pip install -e '.[cuda]'``) and the CUDA toolkit's ``nvcc``; its compile
takes about 3 minutes of 2 idle cores (about 16 s of CPU per generated file: nvcc parses Thrust's headers for
each). It is part of the default run; ``pytest -m cuda`` runs it alone. Where a GPU is visible it also runs
the network and compares it with the numpy mirror of the reference step.
"""
import importlib.util
import os
import shutil
import sys

import numpy as np
import pytest
from brian2 import ms, prefs

from gle_brian import GLEDeviceError, GLENetwork, Layer, ReferenceNetwork, devices, init_weights

DT = 0.01 * ms
HAVE_BRIAN2CUDA = importlib.util.find_spec('brian2cuda') is not None
HAVE_NVCC = shutil.which('nvcc') is not None or os.path.isfile(os.path.join(os.environ.get('CUDA_PATH', ''),
                                                                             'bin', 'nvcc'))


def small_layers():
    """2-3-2, as small as a network with every kind of kernel gets: a tanh hidden layer with per-neuron
    (mixed) time constants and nudging, so errors flow down (the feedback sum), and a linear output."""
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
    """Generate and compile the CUDA project for compute capability 9.0; run it only where a GPU is visible."""
    gpu = devices.gpu_available()
    devices.configure_cuda(compute_capability=None if gpu else 9.0)
    layers = small_layers()
    weights = init_weights([2, 3, 2], seed=1)
    # without a GPU nothing runs, so no monitors: two files fewer to compile (~16 s of CPU each)
    net = GLENetwork(2, layers, dt=DT, device='cuda_standalone', loss='mse', beta=0.1, weights=weights,
                     record=['r', 'err'] if gpu else [], directory=str(tmp_path / 'cuda'))
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(200, 2)), rng.normal(size=(200, 2))
    if gpu:
        net.run(x, y)
        expected = ReferenceNetwork(2, layers, weights, dt=DT, beta=0.1).run(x, y)
        for variable in ('r', 'err'):
            for layer in range(len(layers)):
                np.testing.assert_allclose(net.trace(variable, layer), expected[variable][layer][:, 0],
                                           rtol=1e-12, atol=1e-14, err_msg=f'{variable} in layer {layer}')
    else:
        with pytest.raises(GLEDeviceError, match='cannot run here: this machine has no NVIDIA GPU'):
            net.run(x, y)
    makefile = (tmp_path / 'cuda' / 'makefile').read_text()
    assert '-std=c++17' in makefile and ('-arch=sm_' if gpu else '-arch=sm_90') in makefile
    assert os.path.isfile(net.project.binary) and os.access(net.project.binary, os.X_OK)
