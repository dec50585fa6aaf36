"""Time per training epoch of the MNIST-1D end-to-end model: cpp_standalone next to the numpy mirror.

The model of ``models/mnist1d_e2e.py`` (6 x 53 GLE units, CE, Adam every step) learns on MNIST-1D samples
(360 steps each). For each batch size, ``--runs`` runs of the cpp_standalone network are timed after the one
that compiled it; a run presents ``--samples-per-run`` samples (chunks of ``batch`` samples one after the
other, as ``train(..., chunks_per_run=...)`` does; at least one chunk), and the time per epoch (4000
training samples) is extrapolated from the mean time per run. The numpy mirror (``ReferenceNetwork`` with
the same learning) steps through ``--runs`` chunks. Testing (1000 samples, no plasticity) is not included.

Run::

    python -m bench.mnist1d_epoch --batches 100 1 --samples-per-run 100 --out bench/mnist1d_epoch.json
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


def chunks(data, batch, runs, per_run=1):
    """``runs + 1`` runs of ``per_run`` chunks of ``batch`` samples, one chunk after the other: inputs
    (per_run*steps, batch, 1) and one-hot targets (per_run*steps, batch, 10)."""
    for k in range(runs + 1):
        index = np.arange(k * batch * per_run, (k + 1) * batch * per_run).reshape(per_run, batch) % len(data.x)
        steps, channels = data.x.shape[1:]
        x = data.x[index].transpose(0, 2, 1, 3).reshape(per_run * steps, batch, channels)
        target = np.repeat(np.eye(10)[data.y[index]][:, None], steps, axis=1).reshape(per_run * steps, batch, 10)
        yield np.ascontiguousarray(x), target


def time_brian(data, batch, runs, precision='double', per_run=1):
    """Seconds per run of ``per_run`` chunks of ``batch`` samples on cpp_standalone."""
    net = mnist1d_e2e.build('cpp_standalone', batch, seed=12, precision=precision)
    times = []
    for k, (x, target) in enumerate(chunks(data, batch, runs, per_run)):
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
    parser.add_argument('--runs', type=int, default=3, help='timed runs per runner (after a warm-up run)')
    parser.add_argument('--samples-per-run', type=int, default=1,
                        help='samples per cpp_standalone run (chunks of batch samples one after the other)')
    parser.add_argument('--precision', default='double', choices=list(PRECISIONS),
                        help='of the cpp_standalone network (the mirror computes in double)')
    parser.add_argument('--out', default=None)
    args = parser.parse_args(argv)
    train, _ = mnist1d()
    rows = []
    for batch in args.batches:
        per_run = max(1, args.samples_per_run // batch)
        row = {'batch': batch, 'samples_per_run': batch * per_run, 'runs_timed': args.runs,
               'precision': args.precision}
        cpp_run = time_brian(train, batch, args.runs, args.precision, per_run)
        per_sample = {'cpp_standalone': cpp_run / (batch * per_run),
                      'numpy_mirror': time_mirror(train, batch, args.runs) / batch}
        for runner, seconds in per_sample.items():
            row[f'{runner}_s_per_epoch'] = seconds * TRAIN_SAMPLES
        row['cpp_vs_mirror'] = row['cpp_standalone_s_per_epoch'] / row['numpy_mirror_s_per_epoch']
        rows.append(row)
        print(json.dumps(row), flush=True)
    print('| batch | samples per run | cpp_standalone (s/epoch) | numpy mirror (s/epoch) | ratio |\n'
          '|---|---|---|---|---|')
    for row in rows:
        print(f"| {row['batch']} | {row['samples_per_run']} | {row['cpp_standalone_s_per_epoch']:.1f} | "
              f"{row['numpy_mirror_s_per_epoch']:.0f} | {row['cpp_vs_mirror']:.2f}x |")
    if args.out:
        write_json(args.out, rows)


if __name__ == '__main__':
    main()
