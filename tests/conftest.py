"""Shared fixtures: every test that takes ``device`` runs on each CPU code-generation target."""
import pytest

from bench.make_gpu_reference import parity_layers

CPU_DEVICES = [
    pytest.param('numpy'),
    pytest.param('cython'),
    pytest.param('cpp_standalone', marks=pytest.mark.standalone),
]


@pytest.fixture(params=CPU_DEVICES)
def device(request):
    """A CPU code-generation target name."""
    return request.param


@pytest.fixture(scope='session')
def mixed_layers():
    """The 3-layer net of the parity tests: mixed per-neuron time constants, nudging, a bias."""
    return parity_layers()
