"""Time per training epoch of the MNIST-1D end-to-end model: cpp_standalone next to the numpy mirror and a C++ floor.

The model of ``models/mnist1d_e2e.py`` (6 x 53 GLE units, CE, Adam every step) learns on MNIST-1D samples
(360 steps each). For each batch size, ``--runs`` runs of the cpp_standalone network are timed after the one
that compiled it; a run presents ``--samples-per-run`` samples (chunks of ``batch`` samples one after the
other, as ``train(..., chunks_per_run=...)`` does; at least one chunk), and the time per epoch (4000
training samples) is extrapolated from the mean time per run. The numpy mirror (``ReferenceNetwork`` with
the same learning) steps through ``--runs`` chunks. Testing (1000 samples, no plasticity) is not included
in the epoch; the test pass of the cpp_standalone network is timed on its own (below).

The floor (``bench/floor_step.cpp``, driven by :mod:`bench.floor`) is the same full training step written as
plain C++ loops in double precision: what the step costs without a framework around it. It is compiled once
per benchmark run into a temporary folder with ``g++ -O3 -march=native -ffast-math -std=c++17`` (plain
``-ffast-math``: glibc's vector tanh may be used), starts from the initial weights of
``mnist1d_e2e.build('numpy', batch, seed=12)`` (the mirror's; the cpp_standalone network is built with the same
seed) and runs through the chunks of the cpp_standalone runs, the first skipped like the others'; the program
times its step loop itself (reading the files excluded). Before it is timed it steps through the first 50 steps
of the first chunk next to the mirror, from the same weights: the largest absolute difference of the final
state (rates, errors, ... of every layer, all weights and biases) must be at most 1e-9, or the benchmark stops.

Fields of each JSON line (and of ``--out``): ``batch``, ``samples_per_run``, ``runs_timed``, ``precision`` (of the
cpp_standalone network; the mirror and the floor compute in double); ``cpp_standalone_s_per_epoch``,
``numpy_mirror_s_per_epoch``, ``floor_s_per_epoch`` and the ratios ``cpp_vs_mirror``, ``cpp_vs_floor``,
``mirror_vs_floor``; ``cpp_loop_s_per_epoch`` and ``cpp_loop_vs_floor``, the simulation loop of the compiled
binary alone (Brian2's own counter: without starting the program and passing the input, state and recordings
through files, as the floor's time is without reading its files); ``floor_max_abs_diff`` (the check above) and
``floor_flags`` (the compiler's flags);
``cpp_train_s_per_sample`` and ``cpp_test_s_per_sample`` (the test pass as ``evaluate`` runs it:
``net.run(x, None, learn=False, inference=True)`` on the same chunks after the training runs, the first skipped)
and ``test_vs_train``; ``cpp_peak_rss_mb``, the peak
resident memory of the compiled binary itself (in one more training run, the binary started by a small Python
wrapper that reads its ``ru_maxrss``); ``children_peak_rss_mb``, ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` right
after the training runs: the largest of all child processes so far, which is the C++ compiler of the Brian2
project (or of the floor), not the binary. The cpp_standalone times above are of one thread (the project built
without OpenMP); on a machine with more cores the network is built and timed again on all of them: ``threads``,
``cpp_threads_s_per_epoch``, ``threads_speedup`` (one thread's time over theirs) and
``cpp_threads_test_s_per_sample``.

Run::

    python -m bench.mnist1d_epoch --batches 100 1 --samples-per-run 100 --out bench/mnist1d_epoch.json
    python -m bench.mnist1d_epoch --batches 100 --precision single
"""
import argparse
import json
import os
import resource
import sys
import tempfile
import time

import numpy as np
from brian2 import prefs

from bench.floor import FLAGS, compile_floor, mirror_difference, mirror_network, run_floor, write_problem
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


# The peak resident memory of one program (``./main`` with Brian2's arguments): run as the child of this wrapper,
# whose own children are that program alone. ru_maxrss is in kilobytes on Linux.
PEAK_RSS_WRAPPER = ('import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); '
                    'open(sys.argv[1], "w").write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); '
                    'sys.exit(code)')
CORES = len(os.sched_getaffinity(0))     # the threaded measurement uses them all
CHECK_STEPS = 50          # steps of the floor's check against the mirror
CHECK_TOLERANCE = 1e-9    # largest absolute difference allowed


def time_brian(data, batch, runs, precision='double', per_run=1, threads=1, memory=True):
    """The cpp_standalone network on ``threads`` threads: seconds per run of ``per_run`` chunks of ``batch`` samples
    in training (``'train'``) and in the test pass after it (``'test'``: no target, no learning, the errors at rest,
    as :func:`gle_brian.training.evaluate` runs it), and with ``memory`` peak resident memory in MB: of the binary
    (``'peak_rss_mb'``, one more training run) and of all child processes so far right after the training runs
    (``'children_peak_rss_mb'``: the compiler's)."""
    settings = prefs.devices.cpp_standalone
    chosen, settings.openmp_threads = settings.openmp_threads, threads
    try:
        net = mnist1d_e2e.build('cpp_standalone', batch, seed=12, precision=precision)
    finally:
        settings.openmp_threads = chosen
    times = {'train': [], 'test': [], 'loop': []}
    for k, (x, target) in enumerate(chunks(data, batch, runs, per_run)):
        start = time.perf_counter()
        net.run(x, target)
        if k:                                       # the first run compiles
            times['train'].append(time.perf_counter() - start)
            times['loop'].append(net.project.brian_device._last_run_time)     # the simulation loop alone
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    for k, (x_test, _) in enumerate(chunks(data, batch, runs, per_run)):
        start = time.perf_counter()
        net.run(x_test, None, learn=False, inference=True)
        if k:
            times['test'].append(time.perf_counter() - start)
    result = {name: float(np.mean(seconds)) for name, seconds in times.items()}
    if memory:
        result.update(peak_rss_mb=binary_peak_rss(net, x, target), children_peak_rss_mb=children)
    return result


def binary_peak_rss(net, x, target):
    """Peak resident memory (MB) of the compiled binary of ``net`` in one more training run on ``x``, ``target``."""
    settings = prefs.devices.cpp_standalone
    before = settings.run_cmd_unix
    with tempfile.TemporaryDirectory(prefix='gle_brian_rss_') as folder:
        path = os.path.join(folder, 'ru_maxrss')
        settings.run_cmd_unix = [sys.executable, '-c', PEAK_RSS_WRAPPER, path, './main']
        try:
            net.run(x, target)
        finally:
            settings.run_cmd_unix = before
        return int(open(path).read()) / 1024


def check_floor(binary, folder, template, data, batch):
    """Largest absolute difference of the floor from the mirror after ``CHECK_STEPS`` steps of the first chunk from
    the weights of ``template``; raises when it is above ``CHECK_TOLERANCE``."""
    x, target = next(chunks(data, batch, 0))
    difference = mirror_difference(binary, folder, template.layers, template.weights, template.biases, template.dt,
                                   x[:CHECK_STEPS], target[:CHECK_STEPS])
    if not difference <= CHECK_TOLERANCE:
        raise RuntimeError(f'the floor ({binary}) differs from the numpy mirror by {difference:.3g} after '
                           f'{CHECK_STEPS} steps at batch {batch} (allowed: {CHECK_TOLERANCE:g}): it does not compute '
                           'the same step')
    return difference


def time_floor(binary, folder, template, data, batch, runs, per_run=1):
    """Seconds per run of ``per_run`` chunks of ``batch`` samples on the floor, from the weights of ``template``
    through the chunks of the cpp_standalone runs (the first skipped)."""
    write_problem(folder, template.layers, template.weights, template.biases, template.dt, batch,
                  list(chunks(data, batch, runs, per_run)))
    seconds, _ = run_floor(binary, folder)
    return float(np.mean(seconds[1:]))


def time_mirror(data, batch, runs, template=None):
    if template is None:
        template = mnist1d_e2e.build('numpy', batch, seed=12)     # same layers and initial weights
    net = mirror_network(template.layers, template.weights, template.biases, mnist1d_e2e.DT, batch)
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
                        help='samples per cpp_standalone (and floor) run (chunks of batch samples one after the other)')
    parser.add_argument('--precision', default='double', choices=list(PRECISIONS),
                        help='of the cpp_standalone network (the mirror and the floor compute in double)')
    parser.add_argument('--out', default=None)
    args = parser.parse_args(argv)
    train, _ = mnist1d()
    rows = []
    with tempfile.TemporaryDirectory(prefix='gle_brian_floor_') as folder:
        binary = compile_floor(folder)            # once, before the networks: a failure stops at once
        for batch in args.batches:
            per_run = max(1, args.samples_per_run // batch)
            row = {'batch': batch, 'samples_per_run': batch * per_run, 'runs_timed': args.runs,
                   'precision': args.precision}
            cpp = time_brian(train, batch, args.runs, args.precision, per_run)
            template = mnist1d_e2e.build('numpy', batch, seed=12)      # the initial weights of the mirror and floor
            difference = check_floor(binary, folder, template, train, batch)
            per_sample = {'cpp_standalone': cpp['train'] / (batch * per_run),
                          'numpy_mirror': time_mirror(train, batch, args.runs, template) / batch,
                          'floor': time_floor(binary, folder, template, train, batch, args.runs, per_run)
                          / (batch * per_run)}
            for runner, seconds in per_sample.items():
                row[f'{runner}_s_per_epoch'] = seconds * TRAIN_SAMPLES
            row['cpp_vs_mirror'] = row['cpp_standalone_s_per_epoch'] / row['numpy_mirror_s_per_epoch']
            row['cpp_vs_floor'] = row['cpp_standalone_s_per_epoch'] / row['floor_s_per_epoch']
            row['cpp_loop_s_per_epoch'] = cpp['loop'] / (batch * per_run) * TRAIN_SAMPLES
            row['cpp_loop_vs_floor'] = row['cpp_loop_s_per_epoch'] / row['floor_s_per_epoch']
            row['mirror_vs_floor'] = row['numpy_mirror_s_per_epoch'] / row['floor_s_per_epoch']
            row['floor_max_abs_diff'] = difference
            row['floor_flags'] = ' '.join(FLAGS)
            row['cpp_train_s_per_sample'] = per_sample['cpp_standalone']
            row['cpp_test_s_per_sample'] = cpp['test'] / (batch * per_run)
            row['test_vs_train'] = row['cpp_test_s_per_sample'] / row['cpp_train_s_per_sample']
            row['cpp_peak_rss_mb'] = cpp['peak_rss_mb']
            row['children_peak_rss_mb'] = cpp['children_peak_rss_mb']
            if CORES > 1:      # the same on all cores (the times above: one thread)
                threaded = time_brian(train, batch, args.runs, args.precision, per_run, CORES, memory=False)
                row['threads'] = CORES
                row['cpp_threads_s_per_epoch'] = threaded['train'] / (batch * per_run) * TRAIN_SAMPLES
                row['threads_speedup'] = cpp['train'] / threaded['train']
                row['cpp_threads_test_s_per_sample'] = threaded['test'] / (batch * per_run)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print('| batch | samples per run | cpp_standalone (s/epoch) | numpy mirror (s/epoch) | cpp/mirror '
          '| floor (s/epoch) | cpp/floor | cpp loop/floor | mirror/floor | cpp test/train | cpp peak RSS (MB) '
          '| cpp on all cores (s/epoch) | speed-up |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    for row in rows:
        threaded = (f"{row['cpp_threads_s_per_epoch']:.1f} ({row['threads']} threads) | {row['threads_speedup']:.2f}x"
                    if 'threads' in row else '- | -')
        print(f"| {row['batch']} | {row['samples_per_run']} | {row['cpp_standalone_s_per_epoch']:.1f} | "
              f"{row['numpy_mirror_s_per_epoch']:.0f} | {row['cpp_vs_mirror']:.2f}x | {row['floor_s_per_epoch']:.2f} | "
              f"{row['cpp_vs_floor']:.2f}x | {row['cpp_loop_vs_floor']:.2f}x | {row['mirror_vs_floor']:.0f}x | "
              f"{row['test_vs_train']:.2f} | {row['cpp_peak_rss_mb']:.0f} | {threaded} |")
    if args.out:
        write_json(args.out, rows)


if __name__ == '__main__':
    main()
