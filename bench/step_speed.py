"""Microseconds per simulated step: Brian2 (cython, cpp_standalone) side by side with the numpy mirror.

Network: input(N) -> N -> N -> N, tanh hidden layers, linear output, GLE time constants, MSE output
error with a random target so that errors flow down every step; without plasticity, or (``--plasticity
on``) with Adam on the weights every step. Projections dense (matrix products in the generated code, the
default) or as Brian2 Synapses (``--projections dense synapses``). Each Brian2 target is
timed on a run after the one that generated and compiled its code, with the simulator's own run-time
counter (so process start-up and file transfer of standalone runs are excluded and reported apart).

Run::

    python bench/step_speed.py --sizes 100 300 1000 --out bench/step_speed.json
    python bench/step_speed.py --sizes 300 1000 --devices cpp_standalone --precisions double single
    python bench/step_speed.py --devices cpp_standalone --projections dense synapses --plasticity off on
    python bench/step_speed.py --devices cpp_standalone --sizes 1000 3000 --probabilities 1 0.1
    python bench/step_speed.py --devices cpp_standalone --sizes 1000 3000 10000 --threads 1 2
    python bench/step_speed.py --devices cpp_standalone --sizes 100 300 1000 --batch 30 --blas never always

``--probabilities``: each projection connects a pair of neurons with this probability (``connect=[dict(p=...)]``;
1 is all-to-all), computed as configured by ``--projections`` (``dense``: CSR products for p < 1,
:mod:`gle_brian.sparse`; ``synapses``: Brian2 Synapses); the mirror then holds
``scipy.sparse`` matrices. ``--batch``: copies side by side (the products become matrix products); ``--blas``: the
dense products in C++ with OpenBLAS (``always``), the loops (``never``) or as chosen by size (``auto``, the default;
``prefs.gle_brian.blas``), each a target of its own.
"""
import argparse
import json
import platform
import time

import numpy as np
from brian2 import ms, prefs

import scipy.sparse

from gle_brian import Adam, GLENetwork, Layer, Learning, ReferenceNetwork, init_weights
from gle_brian.dense import uses_blas
from gle_brian.network import PRECISIONS, PROJECTIONS
from gle_brian.preferences import BLAS_CHOICES
from gle_brian.results import write_json

DT = 0.01 * ms


def layers(n):
    return [Layer(n, 'tanh', tau_m=1 * ms, tau_r=0.1 * ms), Layer(n, 'tanh', tau_m=1 * ms, tau_r=0.1 * ms),
            Layer(n, 'linear', tau_m=1 * ms)]


def steps_for(n):
    return {100: 4000, 300: 1000, 10000: 50}.get(n, 300)


def learning(plastic):
    """Adam on the weights (a small learning rate: the timing runs must stay finite), or None."""
    return Learning(Adam(lr=1e-5)) if plastic else None


def time_mirror(n, steps, x, y, weights, plastic=False, batch=1):
    """``weights``: dense arrays, or scipy.sparse matrices for sparse projections."""
    ref = ReferenceNetwork(n, layers(n), weights, dt=DT, beta=0.1, learning=learning(plastic), batch=batch)
    x, y = x.reshape(steps, batch, n), y.reshape(steps, batch, n)        # (batch, n) per step
    start = time.perf_counter()
    for k in range(steps):
        ref.step(x[k], y[k], learn=plastic)
    return (time.perf_counter() - start) / steps * 1e6


def connect(p):
    """The ``connect=`` of a network whose projections connect pairs with probability ``p`` (None: all-to-all)."""
    return None if p == 1 else [dict(p=p)] * 3


def time_brian(device, n, steps, x, y, weights, precision='double', projection=None, plastic=False, p=1, threads=1,
               batch=1, blas='auto'):
    settings = prefs.devices.cpp_standalone
    chosen, settings.openmp_threads = settings.openmp_threads, threads      # cpp_standalone's threads
    chosen_blas, prefs.gle_brian.blas = prefs.gle_brian.blas, blas
    try:
        net = GLENetwork(n, layers(n), dt=DT, device=device, loss='mse', beta=0.1, weights=weights,
                         precision=precision, projection=projection, learning=learning(plastic), connect=connect(p),
                         seed=0, batch=batch)
    finally:
        settings.openmp_threads, prefs.gle_brian.blas = chosen, chosen_blas
    net.run(x, y)                         # generates and compiles the code
    start = time.perf_counter()
    net.run(x, y)
    wall = time.perf_counter() - start
    simulated = net.project.brian_device._last_run_time   # the simulation loop alone, measured by Brian2
    return simulated / steps * 1e6, wall / steps * 1e6, net


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[100, 300, 1000])
    parser.add_argument('--devices', nargs='+', default=['cython', 'cpp_standalone'])
    parser.add_argument('--precisions', nargs='+', default=['double'], choices=list(PRECISIONS),
                        help='floating-point types of the Brian2 networks (the mirror is always double)')
    parser.add_argument('--projections', nargs='+', default=['dense'], choices=list(PROJECTIONS))
    parser.add_argument('--plasticity', nargs='+', default=['off'], choices=['off', 'on'],
                        help='without plasticity, and/or with Adam on the weights every step')
    parser.add_argument('--probabilities', type=float, nargs='+', default=[1.0],
                        help='connection probability of every projection (1: all-to-all)')
    parser.add_argument('--threads', type=int, nargs='+', default=[1],
                        help='threads of cpp_standalone (OpenMP; 1: without), each a target of its own')
    parser.add_argument('--batch', type=int, default=1, help='copies side by side')
    parser.add_argument('--blas', nargs='+', default=['auto'], choices=list(BLAS_CHOICES),
                        help='dense products of cpp_standalone with OpenBLAS, each a target of its own')
    parser.add_argument('--out', default=None)
    args = parser.parse_args(argv)
    # (label, device, precision, projection, threads, blas): the device's name, with what differs from double, dense,
    # one thread and BLAS as chosen by size
    targets = [('_'.join([device] + [precision] * (precision != 'double') + [projection] * (projection != 'dense')
                         + [f'{threads}threads'] * (threads != 1) + [f'blas-{blas}'] * (blas != 'auto')),
                device, precision, projection, threads, blas)
               for device in args.devices for precision in args.precisions for projection in args.projections
               for threads in (args.threads if device == 'cpp_standalone' else [1])
               for blas in (args.blas if device == 'cpp_standalone' else ['auto'])]
    rows = []
    for plasticity in args.plasticity:
        for n in args.sizes:
            for p in args.probabilities:
                steps = steps_for(n)
                rng = np.random.default_rng(n)
                shape = (steps, n) if args.batch == 1 else (steps, args.batch, n)
                x, y = rng.normal(size=shape), rng.normal(size=shape)
                weights = init_weights([n] * 4, seed=0)
                plastic = plasticity == 'on'
                row = {'N': n, 'p': p, 'batch': args.batch, 'plasticity': plasticity, 'steps': steps,
                       'blas_auto': uses_blas(args.batch, n * n)}
                for label, device, precision, projection, threads, blas in targets:
                    row[f'{label}_us'], row[f'{label}_wall_us'], net = time_brian(
                        device, n, steps, x, y, weights, precision, projection, plastic, p, threads, args.batch, blas)
                    row['synapses'] = int(sum(n * n if c is None else len(c[0]) for c in net.connectivity))
                    mirror_weights = net.weights if p == 1 else [     # the same synapses (same seed) in every target
                        scipy.sparse.csr_matrix((w[post, pre], (post, pre)), shape=w.shape)
                        for w, (pre, post) in zip(net.weights, net.connectivity)]
                if 'numpy_mirror_us' not in row:
                    row['numpy_mirror_us'] = time_mirror(n, steps, x, y, mirror_weights, plastic, args.batch)
                for label, *_ in targets:
                    row[f'{label}_vs_mirror'] = row[f'{label}_us'] / row['numpy_mirror_us']
                rows.append(row)
                print(json.dumps(row), flush=True)
    header = ['N', 'p', 'synapses', 'plasticity', 'numpy mirror (us)'] + [
        f'{label} (us, ratio to mirror)' for label, *_ in targets]
    print('| ' + ' | '.join(header) + ' |\n|' + '---|' * len(header))
    for row in rows:
        cells = [str(row['N']), f"{row['p']:g}", str(row['synapses']), row['plasticity'],
                 f"{row['numpy_mirror_us']:.1f}"] + [
            f"{row[f'{label}_us']:.1f} ({row[f'{label}_vs_mirror']:.2f}x)" for label, *_ in targets]
        print('| ' + ' | '.join(cells) + ' |')
    if args.out:
        write_json(args.out, {'machine': platform.processor() or platform.machine(), 'rows': rows})


if __name__ == '__main__':
    main()
