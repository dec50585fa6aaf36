"""Every code-generation target equals the numpy mirror of the reference step, learning included.

Compilation dominates the suite's time, so each compiled network here is built once and serves every
check. The networks use the parity layers (mixed per-neuron time constants, nudging, a bias) and Adam on
W, b and tau_m: one with the MSE error at batch 1 (plus a recording of chosen neurons every other step) on
numpy and cpp_standalone, one with the cross-entropy error at batch 3 (softmax, batch sums) and feedback
alignment on numpy, cython and cpp_standalone, without the middle layer. Both are built with dense
projections (the default) and, on numpy and cpp_standalone, with Brian2 Synapses: the two paths equal the
mirror, so they equal each other. Cython compiles each code object on its own (minutes per network, cold),
so it builds only the dense CE network, which has every kind of code object but the MSE error (a middle
layer has the same kinds as the first). The C++ MSE network with dense projections is compiled with the
flags users get (-O3, fast math) and for two threads (OpenMP), the others without optimisation (conftest); the
C++ CE network computes its products with OpenBLAS (``prefs.gle_brian.blas = 'always'``), on two threads that
share the rows of each product, the others with the loops, on one thread. Each network goes through the mirror's
runs (learning on, off, on, no target; the state carries over) and is compared after every run; the last test
drives it to NaN and compares the watch's report with the mirror.
Brian2 holds one standalone network per process: the tests are grouped by network (pytest orders them so).

See docs/model.rst, sections 'The discrete step' and 'Plasticity'.
"""
import contextlib
import glob
import os
import platform
import subprocess

import numpy as np
import pytest
from brian2 import ms, prefs, second

from gle_brian import GLEConfigError, GLENetwork, GLENumericalError, ReferenceNetwork
from gle_brian.optimisers import Adam, Learning
from gle_brian.recording import record
from gle_brian.reference import VARIABLES
from conftest import library_compile_flags
from mirror import assert_equals_mirror

STEPS = 150
RUNS = (True, False, True, None)                 # learn on, off, on; None: no target
DT = 0.01 * ms
LOSSES = {'mse': dict(batch=1, beta=0.1), 'ce': dict(batch=3, beta=0.5)}
FEEDBACK = {'mse': 'symmetric', 'ce': 'random'}
RECORDED = {0: [3, 1], -1: None}                  # chosen neurons of the first layer, all of the output
RECORDED_VARIABLES = [*VARIABLES, 'w']
OPTIMISED = ('cpp_standalone', 'mse', 'dense')     # built with the library's compile flags
BLAS = ('cpp_standalone', 'ce', 'dense')           # products with OpenBLAS


class Parity:
    """One target's network and its mirror after the runs, with what was compared along the way."""

    def __init__(self, device, loss, projection, layers, directory):
        self.key = (device, loss, projection)
        rng = np.random.default_rng(5)
        sizes = [3] + [layer.size for layer in layers]
        weights = [rng.uniform(-1, 1, (n, m)) for m, n in zip(sizes[:-1], sizes[1:])]
        feedback = [rng.uniform(-1, 1, w.shape) for w in weights] if FEEDBACK[loss] == 'random' else None
        biases = [rng.normal(size=layer.size) for layer in layers]
        learning = Learning(Adam(lr=0.01), lr=[0.01, 0.02, 0.005][:len(layers)], tau_m=True, tau_m_min=0.05 * ms)
        kwargs = dict(dt=DT, biases=biases, learning=learning, loss=loss, **LOSSES[loss])
        self.net = GLENetwork(3, layers, weights=weights, device=device, record=VARIABLES, directory=directory,
                              feedback=FEEDBACK[loss], feedback_weights=feedback, projection=projection, **kwargs)
        self.ref = ReferenceNetwork(3, layers, weights, feedback=feedback, **kwargs)
        self.initial_weights = weights
        self.recording = record(self.net, RECORDED_VARIABLES, neurons=RECORDED, dt=2 * DT) if loss == 'mse' else None
        self.failures, self.expected = [], None
        batch, n_out = self.net.batch, sizes[-1]
        for number, learn in enumerate(RUNS):
            x = 3 * rng.normal(size=(STEPS, batch, 3))
            if loss == 'ce':
                y = np.eye(n_out)[rng.integers(0, n_out, (STEPS, batch))]
            else:
                y = rng.normal(size=(STEPS, batch, n_out))
            y = None if learn is None else y
            self.net.run(x, y, learn=bool(learn))
            self.expected = self.ref.run(x, y, learn=bool(learn))
            try:
                assert_equals_mirror(self.net, self.ref, self.expected, atol=1e-12, tau_m=True)
            except AssertionError as error:
                self.failures.append(f'run {number} (learn={learn}): {error}')


def _network(device, loss, projection='dense'):
    marks = [pytest.mark.standalone] if device == 'cpp_standalone' else []
    return pytest.param((device, loss, projection), marks=marks, id=f'{device}-{loss}-{projection}')


MSE = [_network(device, 'mse', projection) for device in ('numpy', 'cpp_standalone')
       for projection in ('dense', 'synapses')]
NETWORKS = MSE + [_network('numpy', 'ce'), _network('numpy', 'ce', 'synapses'), _network('cython', 'ce'),
                  _network('cpp_standalone', 'ce')]


@pytest.fixture(scope='module')
def parity(request, mixed_layers, tmp_path_factory):
    """The network of one (device, loss, projection) after the runs; built once, used by the tests that follow."""
    device, loss, projection = request.param
    layers = mixed_layers if loss == 'mse' else [mixed_layers[0], mixed_layers[-1]]
    directory = str(tmp_path_factory.mktemp(f'{device}_{loss}_{projection}'))
    with library_compile_flags() if request.param == OPTIMISED else contextlib.nullcontext(), \
            two_threads() if request.param in (OPTIMISED, BLAS) else contextlib.nullcontext(), \
            blas('always' if request.param == BLAS else 'never'):
        return Parity(device, loss, projection, layers, directory)


@contextlib.contextmanager
def blas(choice):
    """Inside the block, ``prefs.gle_brian.blas`` is ``choice``."""
    previous, prefs.gle_brian.blas = prefs.gle_brian.blas, choice
    try:
        yield
    finally:
        prefs.gle_brian.blas = previous


@contextlib.contextmanager
def two_threads():
    """Inside the block, cpp_standalone networks are built for two threads (OpenMP), however small."""
    previous = prefs.devices.cpp_standalone.openmp_threads
    prefs.devices.cpp_standalone.openmp_threads = 2
    try:
        yield
    finally:
        prefs.devices.cpp_standalone.openmp_threads = previous


@pytest.mark.parametrize('parity', NETWORKS, indirect=True)
def test_equals_mirror(parity):
    """Every variable of every layer at every step, W, b and tau_m after each run, to 1e-12."""
    assert not parity.failures, '\n'.join(parity.failures)
    assert all(np.abs(w - w0).max() > 1e-3 for w, w0 in zip(parity.net.weights, parity.initial_weights))
    assert np.abs(parity.expected['I_apical'][-1]).max() == 0         # the last run has no target: no error
    assert np.abs(parity.expected['r'][-1]).max() > 0.1
    if parity.key[0] == 'cpp_standalone':
        makefile = open(os.path.join(parity.net.project.directory, 'makefile')).read().splitlines()
        flags = next(line for line in makefile if line.startswith('OPTIMISATIONS ='))
        assert ('-O3' if parity.key == OPTIMISED else '-O0') in flags.split(), flags
        threads = 2 if parity.key in (OPTIMISED, BLAS) else 1       # these two networks run on two threads
        assert parity.net.runner.threads == threads
        # one thread: Brian2's independent loops are marked for gcc's vectoriser (devices.py), e.g. the Euler update
        euler = glob.glob(os.path.join(parity.net.project.directory, 'code_objects', '*_stateupdater_codeobject*.cpp'))
        assert euler and all(('#pragma GCC ivdep' in open(path).read()) == (threads == 1) for path in euler)
        assert ('omp_set_num_threads(2)' in open(os.path.join(parity.net.project.directory, 'main.cpp')).read()) \
            == (threads == 2)
        # the CE network's products call OpenBLAS (the basal products in the two layers' dendrites, the feedback to
        # the first layer and both drives), the others' the loops
        code = glob.glob(os.path.join(parity.net.project.directory, 'code_objects', '*.cpp'))
        calls = [os.path.basename(path) for path in code if 'cblas_dgemm' in open(path).read()]
        assert len(calls) == (5 if parity.key == BLAS else 0), calls


def test_blas_is_chosen_for_batches_of_large_projections(monkeypatch):
    from gle_brian import dense
    assert not dense.uses_blas(batch=1, weights=10 ** 6)                  # matrix-vector products: the loops
    assert not dense.uses_blas(batch=100, weights=53 * 53)                # MNIST-1D: as fast, the loops
    assert dense.uses_blas(batch=4, weights=300 * 300) == (dense.blas_library() is not None)
    with blas('never'):
        assert not dense.uses_blas(batch=30, weights=10 ** 6)
    monkeypatch.setattr(dense, 'blas_library', lambda: None)
    assert not dense.uses_blas(batch=30, weights=10 ** 6)                 # not installed: the loops
    with blas('always'), pytest.raises(GLEConfigError, match='pip install scipy-openblas64'):
        dense.uses_blas(batch=1, weights=4)


def _glibc_vector_functions():
    """Whether glibc here has the vector tanh that the generated code declares (x86-64, glibc 2.35 or later)."""
    name, _, version = (os.confstr('CS_GNU_LIBC_VERSION') or '').partition(' ')
    return platform.machine() == 'x86_64' and name == 'glibc' and tuple(map(int, version.split('.')[:2])) >= (2, 35)


@pytest.mark.skipif(not _glibc_vector_functions(), reason="glibc's vector tanh needs x86-64 and glibc >= 2.35")
@pytest.mark.parametrize('parity', [p for p in NETWORKS if p.values[0] == OPTIMISED], indirect=True)
def test_optimised_rate_code_calls_the_vector_tanh(parity):
    """Built with the users' flags (-fno-finite-math-only), the tanh and sigmoid layers' rate loops are vectorised:
    the program calls glibc's vector tanh (_ZGV..._tanh), and it still equals the mirror (test_equals_mirror)."""
    symbols = subprocess.run(['nm', '-D', os.path.join(parity.net.project.directory, 'main')], capture_output=True,
                             text=True, check=True).stdout
    assert any(line.split()[-1].startswith('_ZGV') and '_tanh@' in line for line in symbols.splitlines()), symbols


@pytest.mark.parametrize('parity', MSE, indirect=True)
def test_recording_of_chosen_neurons_equals_mirror(parity):
    """record(): chosen neurons and all output neurons every other step, weights onto them included."""
    rec, net, expected = parity.recording, parity.net, parity.expected
    samples = STEPS // 2
    assert rec.layers == [0, 2] and rec.dt == 2 * DT and rec.t.dim == second.dim
    start = 0 if net.project else (len(RUNS) - 1) * STEPS * float(DT / ms)     # standalone runs start at 0
    np.testing.assert_allclose(rec.t / ms, start + 2 * float(DT / ms) * np.arange(samples))
    for layer, cells in ((0, RECORDED[0]), (2, [0, 1, 2])):
        for variable in VARIABLES:
            values = rec[variable, layer]
            assert values.shape == (samples, len(cells))
            np.testing.assert_allclose(values, expected[variable][layer][::2, 0, cells], rtol=0, atol=1e-12,
                                       err_msg=f'{variable} in layer {layer}')
        weights = rec['w', layer]
        assert weights.shape == (samples, len(cells), net.sizes[layer])
        np.testing.assert_array_equal(weights[-1], net.weights[layer][cells])
    if net.project is not None:
        with pytest.raises(GLEConfigError, match='before the first net.run'):
            record(net, ['u'])


def _first_bad_step(trace):
    """The first step of a (steps, batch, n) trace with a value that is not finite (len(trace) if none)."""
    finite = np.isfinite(trace).all(axis=(1, 2))
    return len(trace) if finite.all() else int(np.argmin(finite))


@pytest.mark.parametrize('parity', NETWORKS, indirect=True)
def test_nan_watch_reports_the_mirrors_first_bad_step(parity):
    """An input of 1e308 from step 100 on overflows the first layer: the watch names the layer and step at
    which the mirror's state stops being finite."""
    net, ref = parity.net, parity.ref
    x = np.zeros((STEPS, net.batch, 3))
    x[100:] = 1e308
    y = np.zeros((STEPS, net.batch, net.sizes[-1]))
    with np.errstate(all='ignore'):
        traces = ref.run(x, y, learn=True)
    first = [min(_first_bad_step(traces[v][l]) for v in ('u', 'r', 'err')) for l in range(len(net.layers))]
    layer = int(np.argmin(first))
    assert layer == 0 and 100 <= first[0] < STEPS
    with pytest.raises(GLENumericalError, match=f'layer 0 became NaN or inf at step {first[0]} '):
        net.run(x, y)
