"""Reference trajectories for the GPU parity check, computed on the CPU with cpp_standalone.

The parity network of ``tests/test_core.py`` (its layers also serve ``tests/test_targets.py``): 3 inputs ->
4 tanh -> 5 sigmoid -> 3 linear, per-neuron ``tau_m`` and ``tau_r`` in the first layer, nudging
``gamma = 0.3``, biases, MSE output error (``beta = 0.1``) against a random target, no plasticity. 2000
steps of ``dt = 0.01 ms``, run as two runs of 1000 steps (the state carries over), every variable recorded
every 5th step.
``bench/gpu_check.py`` runs the same network on cuda_standalone and compares.

Run::

    python bench/make_gpu_reference.py        # writes bench/gpu_reference.npz (about 0.4 MB)
"""
import argparse
import os

import numpy as np
from brian2 import ms

from gle_brian import GLENetwork, Layer, init_weights
from gle_brian.reference import VARIABLES

DT = 0.01 * ms
STEPS = 2000
RUNS = 2              # the steps are split into this many runs of the same binary
RECORD_EVERY = 5      # steps between recorded samples
REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'gpu_reference.npz')


def parity_layers():
    """The layers of the parity network (time constants drawn with a fixed seed)."""
    rng = np.random.default_rng(0)
    return [Layer(4, 'tanh', tau_m=rng.uniform(0.5, 2, 4) * ms, tau_r=rng.uniform(0.05, 0.5, 4) * ms,
                  gamma=0.3, bias=True),
            Layer(5, 'sigmoid', tau_m=1 * ms, tau_r=0.2 * ms, gamma=0.3),
            Layer(3, 'linear', tau_m=1 * ms, gamma=0.3)]


def parity_inputs():
    """Weights, biases, inputs ``x`` (STEPS, 3) and targets ``y`` (STEPS, 3) of the parity run."""
    rng = np.random.default_rng(1)
    weights = init_weights([3, 4, 5, 3], seed=3)
    biases = [rng.normal(size=4), rng.normal(size=5), rng.normal(size=3)]
    return weights, biases, rng.normal(size=(STEPS, 3)), rng.normal(size=(STEPS, 3))


def run_parity(device, weights, biases, x, y, directory=None, projection=None):
    """Run the parity network on ``device``; returns ``{f'{variable}_{layer}': array (samples, n_l)}``."""
    layers = parity_layers()
    net = GLENetwork(3, layers, dt=DT, device=device, loss='mse', beta=0.1, weights=weights, biases=biases,
                     record=VARIABLES, record_dt=RECORD_EVERY * DT, directory=directory, projection=projection)
    parts = []
    for steps in np.array_split(np.arange(len(x)), RUNS):
        net.run(x[steps], y[steps])
        parts.append({f'{v}_{l}': net.trace(v, l) for v in VARIABLES for l in range(len(layers))})
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=REFERENCE, help='where to write the .npz (default: %(default)s)')
    args = parser.parse_args(argv)
    weights, biases, x, y = parity_inputs()
    traces = run_parity('cpp_standalone', weights, biases, x, y)
    arrays = {f'weights_{l}': w for l, w in enumerate(weights)}
    arrays.update({f'biases_{l}': b for l, b in enumerate(biases)})
    np.savez_compressed(args.out, x=x, y=y, **arrays, **traces)
    print(f'{args.out}: {len(traces)} traces of {len(next(iter(traces.values())))} samples, '
          f'{os.path.getsize(args.out) / 1e3:.0f} kB')


if __name__ == '__main__':
    main()
