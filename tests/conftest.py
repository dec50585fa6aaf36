"""Shared fixtures: the code-generation targets a test runs on, and the parity layers.

The suite runs on all cores (pytest-xdist, ``-n auto --dist loadscope`` in pytest.ini): each module
runs on one worker, so a module fixture builds its network once. Modules that compile the most (CUDA,
then cython networks, then C++ standalone projects) are started first, so that the workers end together.
"""
import pytest
from brian2 import ms

from bench.make_gpu_reference import parity_layers
from gle_brian import GLENetwork, Layer

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


def _compile_rank(item):
    """0 for a CUDA compile, 1 for a cython network, 2 for a C++ standalone project, 3 for the rest."""
    if item.get_closest_marker('cuda'):
        return 0
    if 'cython' in getattr(getattr(item, 'callspec', None), 'id', ''):
        return 1
    return 2 if item.get_closest_marker('standalone') else 3


def pytest_collection_modifyitems(items):
    """Modules with the longest compilations first; a module's tests stay together and in their order
    (module fixtures are built once)."""
    rank = {}
    for item in items:
        rank[item.module] = min(rank.get(item.module, 3), _compile_rank(item))
    items.sort(key=lambda item: rank[item.module])
