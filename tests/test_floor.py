"""The floor of bench/mnist1d_epoch.py (bench/floor_step.cpp, compiled with -O3 -march=native -ffast-math) computes
the training step of the numpy mirror: the same numbers to 1e-9 after some steps with learning."""
import numpy as np
import pytest
from brian2 import ms

from bench.floor import compile_floor, mirror_difference, mirror_network, run_floor, write_problem
from gle_brian import Adam, Layer
from models import mnist1d_e2e


@pytest.fixture(scope='module')
def binary(tmp_path_factory):
    return compile_floor(str(tmp_path_factory.mktemp('floor')))


def random_problem(layers, n_in, batch, steps, seed):
    """Weights and biases of the scale of the model's, inputs and one-hot targets."""
    rng = np.random.default_rng(seed)
    sizes = [n_in] + [layer.size for layer in layers]
    weights = [rng.normal(size=(n, n_pre)) / np.sqrt(n_pre) for n_pre, n in zip(sizes, sizes[1:])]
    biases = [0.1 * rng.normal(size=n) for n in sizes[1:]]
    x = rng.normal(size=(steps, batch, n_in))
    target = np.eye(sizes[-1])[rng.integers(sizes[-1], size=(steps, batch))]
    return weights, biases, x, target


def test_floor_is_the_mirror_on_the_mnist1d_model(binary, tmp_path):
    layers = mnist1d_e2e.layers()
    weights, biases, x, target = random_problem(layers, 1, batch=3, steps=30, seed=1)
    assert mirror_difference(binary, str(tmp_path), layers, weights, biases, mnist1d_e2e.DT, x, target) < 1e-9


def test_floor_is_the_mirror_on_other_sizes_in_runs(binary, tmp_path):
    """Two inputs, tanh before linear, another beta and Adam; two runs carry the state over."""
    layers = [Layer(4, 'tanh', tau_m=1 * ms, tau_r=0.3 * ms, bias=True), Layer(7, tau_m=0.5 * ms, bias=True),
              Layer(3, 'tanh', tau_m=2 * ms, tau_r=0.1 * ms, bias=True)]
    weights, biases, x, target = random_problem(layers, 2, batch=2, steps=40, seed=2)
    dt, optimiser = 0.1 * ms, Adam(lr=3e-3, beta1=0.8, beta2=0.99, eps=1e-6)
    write_problem(str(tmp_path), layers, weights, biases, dt, 2, [(x[:25], target[:25]), (x[25:], target[25:])],
                  beta=0.5, optimiser=optimiser)
    seconds, state = run_floor(binary, str(tmp_path))
    mirror = mirror_network(layers, weights, biases, dt, 2, beta=0.5, optimiser=optimiser)
    for n in range(len(x)):
        mirror.step(x[n], target[n], learn=True)
    assert len(seconds) == 2 and all(s >= 0 for s in seconds)
    for name in ('r', 'err', 'I_apical'):
        for floor, numpy in zip(state[name], mirror.state[name]):
            np.testing.assert_allclose(floor, numpy, rtol=0, atol=1e-9)
    for floor, numpy in [*zip(state['W'], mirror.W), *zip(state['b'], mirror.b)]:
        np.testing.assert_allclose(floor, numpy, rtol=0, atol=1e-9)
    assert np.abs(state['W'][-1] - weights[-1]).max() > 1e-3          # it learned


def test_floor_refuses_what_it_does_not_compute(tmp_path):
    layers = [Layer(3, 'relu', tau_m=1 * ms, bias=True), Layer(2, tau_m=1 * ms, bias=True)]
    weights, biases, x, target = random_problem(layers, 1, batch=1, steps=2, seed=0)
    with pytest.raises(ValueError, match='linear and tanh'):
        write_problem(str(tmp_path), layers, weights, biases, 0.1 * ms, 1, [(x, target)])
    for first in (Layer(3, tau_m=1 * ms, gamma=0.1, bias=True), Layer(3, tau_m=1 * ms)):
        with pytest.raises(ValueError, match='gamma = 0'):
            write_problem(str(tmp_path), [first, layers[1]], weights, biases, 0.1 * ms, 1, [(x, target)])
