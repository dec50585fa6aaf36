"""Time per training epoch of the MNIST-1D end-to-end model: cpp_standalone next to the numpy mirror.

The model of ``models/mnist1d_e2e.py`` (6 x 53 GLE units, CE, Adam every step) learns on MNIST-1D samples
(360 steps each). For each batch size, ``--runs`` chunks of ``batch`` samples are timed after the one that
compiled the network, and the time per epoch (4000 training samples) is extrapolated from the mean time
per chunk; the numpy mirror (``ReferenceNetwork`` with the same learning) steps through the same chunks.
Testing (1000 samples, no plasticity) is not included.

Run::

    python -m bench.mnist1d_epoch --batches 100 1 --out bench/mnist1d_epoch.json
    python -m bench.mnist1d_epoch --batches 100 --precision single
"""
import argparse
import json
import time

import numpy as np

from gle_brian import Adam, Learning, ReferenceNetwork
from gle_brian.data import mnist1d
from gle_brian.network import PRECISIONS
from gle_brian.results import write_json
from models import mnist1d_e2e

TRAIN_SAMPLES = 4000


def chunks(data, batch, runs):
    """``runs + 1`` chunks of ``batch`` samples: inputs (steps, batch, 1) and one-hot targets (steps, batch, 10)."""
    for k in range(runs + 1):
        index = np.arange(k * batch, (k + 1) * batch) % len(data.x)
        x = np.ascontiguousarray(data.x[index].transpose(1, 0, 2))      # (steps, batch, channels)
        target = np.zeros((x.shape[0], batch, 10))
        target[:, np.arange(batch), data.y[index]] = 1.0
        yield x, target


def time_brian(data, batch, runs, precision='double'):
    net = mnist1d_e2e.build('cpp_standalone', batch, seed=12, precision=precision)
    times = []
    for k, (x, target) in enumerate(chunks(data, batch, runs)):
        start = time.perf_counter()
        net.run(x, target)
        if k:                                       # the first run compiles
            times.append(time.perf_counter() - start)
    return float(np.mean(times))


def time_mirror(data, batch, runs):
    template = mnist1d_e2e.build('numpy', batch, seed=12)     # same layers and initial weights
    net = ReferenceNetwork(1, template.layers, template.weights, dt=mnist1d_e2e.DT, biases=template.biases,
                           batch=batch, learning=Learning(Adam(lr=1e-3)), loss='ce')
    times = []
    for k, (x, target) in enumerate(chunks(data, batch, runs)):
        if k == 0:
            continue
        start = time.perf_counter()
        for n in range(len(x)):
            net.step(x[n], target[n], learn=True)
        times.append(time.perf_counter() - start)
    return float(np.mean(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batches', type=int, nargs='+', default=[100, 1])
    parser.add_argument('--runs', type=int, default=3, help='timed chunks per runner (after a warm-up chunk)')
    parser.add_argument('--precision', default='double', choices=list(PRECISIONS),
                        help='of the cpp_standalone network (the mirror computes in double)')
    parser.add_argument('--out', default=None)
    args = parser.parse_args(argv)
    train, _ = mnist1d()
    rows = []
    for batch in args.batches:
        chunks_per_epoch = TRAIN_SAMPLES // batch
        row = {'batch': batch, 'runs_timed': args.runs, 'precision': args.precision}
        for runner, timer in (('cpp_standalone', lambda *a: time_brian(*a, args.precision)),
                              ('numpy_mirror', time_mirror)):
            per_chunk = timer(train, batch, args.runs)
            row[f'{runner}_s_per_chunk'] = per_chunk
            row[f'{runner}_s_per_epoch'] = per_chunk * chunks_per_epoch
        row['cpp_vs_mirror'] = row['cpp_standalone_s_per_epoch'] / row['numpy_mirror_s_per_epoch']
        rows.append(row)
        print(json.dumps(row), flush=True)
    print('| batch | cpp_standalone (s/epoch) | numpy mirror (s/epoch) | ratio |\n|---|---|---|---|')
    for row in rows:
        print(f"| {row['batch']} | {row['cpp_standalone_s_per_epoch']:.0f} | {row['numpy_mirror_s_per_epoch']:.0f} | "
              f"{row['cpp_vs_mirror']:.2f}x |")
    if args.out:
        write_json(args.out, rows)


if __name__ == '__main__':
    main()
