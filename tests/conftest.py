"""Shared fixtures: every test that takes ``device`` runs on each CPU code-generation target."""
import numpy as np
import pytest
from brian2 import ms

from gle_brian import Layer

CPU_DEVICES = [
    pytest.param('numpy'),
    pytest.param('cython'),
    pytest.param('cpp_standalone', marks=pytest.mark.standalone),
]


@pytest.fixture(params=CPU_DEVICES)
def device(request, tmp_path):
    """A code-generation target name; standalone projects are built under the test's tmp_path."""
    return request.param


@pytest.fixture
def mixed_layers():
    """The 3-layer net of the parity tests: mixed per-neuron time constants, nudging, a bias."""
    rng = np.random.default_rng(0)
    return [Layer(4, 'tanh', tau_m=rng.uniform(0.5, 2, 4) * ms, tau_r=rng.uniform(0.05, 0.5, 4) * ms,
                  gamma=0.3, bias=True),
            Layer(5, 'sigmoid', tau_m=1 * ms, tau_r=0.2 * ms, gamma=0.3),
            Layer(3, 'linear', tau_m=1 * ms, gamma=0.3)]
