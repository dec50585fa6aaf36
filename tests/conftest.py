"""Shared fixtures: every test that takes ``device`` runs on each CPU code-generation target.

The suite runs on all cores (pytest-xdist, ``-n auto`` in pytest.ini). Modules that compile the most
(CUDA, then cython networks, then C++ standalone projects) are started first, so that the workers end
together; modules that share a compiled network through a module fixture carry an ``xdist_group`` mark,
so that one worker builds it once.
"""
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


def _compile_rank(item):
    """0 for a CUDA compile, 1 for a cython network, 2 for a C++ standalone project, 3 for the rest."""
    if item.get_closest_marker('cuda'):
        return 0
    params = getattr(item, 'callspec', None)
    if params is not None and params.params.get('device') == 'cython':
        return 1
    return 2 if item.get_closest_marker('standalone') else 3


def pytest_collection_modifyitems(items):
    """Modules with the longest compilations first; a module's tests stay together and in their order
    (module fixtures are built once)."""
    rank = {}
    for item in items:
        rank[item.module] = min(rank.get(item.module, 3), _compile_rank(item))
    items.sort(key=lambda item: rank[item.module])
