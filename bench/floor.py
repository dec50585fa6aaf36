"""The floor of the benchmarks: the GLE training step as a plain C++ program (``bench/floor_step.cpp``).

``floor_step.cpp`` is the full training step of a layered GLE network like the MNIST-1D model (dense
projections, prospective errors, ``gamma = 0``, biases, linear or tanh rates, cross-entropy output error,
Adam on every ``W`` and ``b`` every step, ``batch`` copies with batch-mean gradients) written as the
straightforward loops a competent programmer would write, in double precision. It computes the step of
the numpy mirror (``ReferenceNetwork.step(x, target, learn=True)``, :mod:`gle_brian.reference`), so
:func:`mirror_difference` compares the two; its time is what the step costs without a framework around it.

:func:`compile_floor` builds it with ``g++ -O3 -march=native -ffast-math`` (plain ``-ffast-math``: glibc's
vector ``tanh`` may be used); :func:`write_problem` writes the parameters and the input of some runs into a
folder, :func:`run_floor` runs the program there and returns the seconds of each run's step loop and the
final state.

Example::

    >>> binary = compile_floor(folder)                                            # doctest: +SKIP
    >>> write_problem(folder, layers, weights, biases, dt, batch, [(x, target)])  # doctest: +SKIP
    >>> seconds, state = run_floor(binary, folder)                                # doctest: +SKIP
"""
import os
import subprocess

import numpy as np

from gle_brian import Adam, Learning, ReferenceNetwork
from gle_brian.activations import ACTIVATIONS

__all__ = ['SOURCE', 'FLAGS', 'compile_floor', 'write_problem', 'run_floor', 'mirror_network', 'mirror_difference']

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'floor_step.cpp')
FLAGS = ('-O3', '-march=native', '-ffast-math', '-std=c++17')
#: the state variables the program writes per layer (batch x n each), in this order, then each layer's W and b
STATE = ('u', 'v', 'r', 'r_prime', 'err', 'I_apical')


def compile_floor(directory, compiler='g++'):
    """Compile ``floor_step.cpp`` into ``directory``; returns the path of the program."""
    binary = os.path.join(directory, 'floor_step')
    command = [compiler, *FLAGS, '-o', binary, SOURCE]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f'compiling the floor failed ({" ".join(command)}):\n{result.stderr[-3000:]}')
    return binary


def _activation(layer):
    for name in ('linear', 'tanh'):
        if layer.check() == ACTIVATIONS[name]:
            return name
    raise ValueError(f'the floor has linear and tanh rates only, not {layer.activation!r}')


def write_problem(directory, layers, weights, biases, dt, batch, runs, beta=1.0, optimiser=Adam(lr=1e-3)):
    """Write the network and the input of ``runs`` (a list of ``(x, target)``, shapes ``(steps, batch, n_in)`` and
    ``(steps, batch, n_out)``, run one after the other) into ``directory`` for :func:`run_floor`.

    ``layers`` are :class:`~gle_brian.Layer` specifications of the model's kind (prospective errors, ``gamma = 0``,
    biases, linear or tanh); ``weights`` and ``biases`` their initial values; ``optimiser`` an :class:`~gle_brian.Adam`.
    """
    for layer in layers:
        if not layer.prospective_errors or layer.gamma != 0 or not layer.bias:
            raise ValueError('the floor computes prospective errors without nudging (gamma = 0), with learned biases '
                             '(Layer(..., bias=True)) only')
    if not isinstance(optimiser, Adam):
        raise ValueError(f'the floor learns with Adam only, not {optimiser!r}')
    dt = float(dt)
    n_in = np.shape(weights[0])[1]
    header = [f'n_in {n_in}', f'layers {len(layers)}', 'sizes ' + ' '.join(str(layer.size) for layer in layers),
              'activations ' + ' '.join(_activation(layer) for layer in layers), f'batch {batch}',
              f'runs {len(runs)}', 'steps ' + ' '.join(str(len(x)) for x, _ in runs), f'dt {dt!r}',
              f'beta {float(beta)!r}',
              f'adam {float(optimiser.lr)!r} {optimiser.beta1!r} {optimiser.beta2!r} {optimiser.eps!r}']
    with open(os.path.join(directory, 'header.txt'), 'w') as f:
        f.write('\n'.join(header) + '\n')
    parameters = []
    for layer, W, b in zip(layers, weights, biases):
        tau_m, tau_r = layer.time_constants(dt)
        parameters += [np.asarray(W, dtype=float).ravel(), np.zeros(layer.size) if b is None else np.asarray(b, float),
                       tau_m, tau_r]
    np.concatenate(parameters).astype('<f8').tofile(os.path.join(directory, 'parameters.bin'))
    for name, index, width in (('x', 0, n_in), ('target', 1, layers[-1].size)):
        values = np.concatenate([run[index] for run in runs]).astype('<f8')
        if values.shape[1:] != (batch, width):
            raise ValueError(f'{name} has shape {values.shape[1:]} per step; the floor needs {(batch, width)}')
        values.tofile(os.path.join(directory, f'{name}.bin'))


def run_floor(binary, directory):
    """Run the program on the problem in ``directory``; returns the seconds of each run's step loop (measured by the
    program) and the final state: ``{variable: [per layer (batch, n)]}`` for :data:`STATE`, ``'W'`` and ``'b'``."""
    result = subprocess.run([binary, directory], capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f'the floor failed ({binary} {directory}, exit status {result.returncode}):\n'
                           f'{result.stderr[-3000:]}')
    seconds = [float(line.split()[2]) for line in result.stdout.splitlines() if line.startswith('run ')]
    header = dict(line.split(maxsplit=1) for line in open(os.path.join(directory, 'header.txt')))
    n_in, batch = int(header['n_in']), int(header['batch'])
    sizes = [int(n) for n in header['sizes'].split()]
    values, start = np.fromfile(os.path.join(directory, 'state.bin'), dtype='<f8'), 0

    def take(shape):
        nonlocal start
        size = int(np.prod(shape))
        start += size
        return values[start - size:start].reshape(shape)

    state = {name: [] for name in (*STATE, 'W', 'b')}
    for n in sizes:
        for name in STATE:
            state[name].append(take((batch, n)))
    for n, n_pre in zip(sizes, [n_in] + sizes[:-1]):
        state['W'].append(take((n, n_pre)))
        state['b'].append(take((n,)))
    if start != len(values):
        raise RuntimeError(f'state.bin holds {len(values)} values, not the {start} expected')
    return seconds, state


def mirror_network(layers, weights, biases, dt, batch, beta=1.0, optimiser=Adam(lr=1e-3)):
    """The numpy mirror of the same network and learning (CE output error), as the benchmarks build it."""
    return ReferenceNetwork(np.shape(weights[0])[1], layers, weights, dt=dt, biases=biases, beta=beta, batch=batch,
                            learning=Learning(optimiser), loss='ce')


def mirror_difference(binary, directory, layers, weights, biases, dt, x, target, beta=1.0, optimiser=Adam(lr=1e-3)):
    """Step the floor and the numpy mirror (learning) through ``x`` and ``target`` (``(steps, batch, n)``) from the
    same weights; returns the largest absolute difference of the final state (:data:`STATE`: rates, errors, ...)
    of every layer, its weights and biases."""
    batch = x.shape[1]
    mirror = mirror_network(layers, weights, biases, dt, batch, beta, optimiser)
    for n in range(len(x)):
        mirror.step(x[n], target[n], learn=True)
    write_problem(directory, layers, weights, biases, dt, batch, [(x, target)], beta, optimiser)
    _, state = run_floor(binary, directory)
    pairs = [pair for name in STATE for pair in zip(state[name], mirror.state[name])]
    pairs += [*zip(state['W'], mirror.W), *zip(state['b'], mirror.b)]
    return max(float(np.max(np.abs(a - b))) for a, b in pairs)
