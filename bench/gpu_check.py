"""GPU check of the cuda_standalone target: parity with cpp_standalone, and microseconds per step.

(a) parity: the network of ``bench/make_gpu_reference.py`` on cuda_standalone against the cpp_standalone
    trajectories stored in ``bench/gpu_reference.npz``, with each kind of projection (``--projections``:
    dense products and per-synapse Synapses); passes when every recorded variable deviates by at most 1e-12
    of its largest magnitude (atomicAdd order and ``-use_fast_math`` give ~1e-15).
(b) speed: input(N) -> N -> N -> N (tanh, tanh, linear; the network of ``bench/step_speed.py``) with an
    MSE error against a random target, so that errors flow down every step, for N = 1000, 3000, 10000:
    microseconds per simulated step, with each kind of projection, from Brian2's timer of the simulation loop, on the
    second run of the compiled binary (N <= 3000; the first run is reported too) or on the first (N = 10000). Kernels
    are loaded before the loop starts (``CUDA_MODULE_LOADING=EAGER``).
(c) speed of the MNIST-1D end-to-end model (``models/mnist1d_e2e.py``: 6 x 53 GLE units, CE, Adam every step)
    at batch 100 and 1000: microseconds per step of a 360-step run (one sample per copy, random inputs and
    labels), timed like (b).

Each part runs in its own process (Brian2 holds one standalone device per process) under a time limit
taken from what is left of ``--budget``, parity first, then the sizes in increasing order. Results go to
``gpu_check.json`` in ``--out`` (default ``$OUT``, else ``output/gpu_check``), rewritten after each part;
projects are built in a temporary folder that is deleted after each part.

Run::

    python bench/gpu_check.py                         # on a machine with an NVIDIA GPU
    python bench/gpu_check.py --dry-run --sizes 1000  # without a GPU: only generate the CUDA code
"""
import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

TOLERANCE = 1e-12                              # relative to each variable's largest magnitude
SIZES = (1000, 3000, 10000)
MNIST_BATCHES = (100, 1000)
STEPS = {1000: 2000, 3000: 1000, 10000: 200}   # simulated steps per run (0.01 ms each)
SECOND_RUN_SYNAPSES = 3e7   # larger nets are timed on their first run only (moving the state costs minutes)


def emit(result_file, **values):
    """Merge ``values`` into the part's result file (kept when the part is stopped at its time limit)."""
    result = json.load(open(result_file)) if os.path.exists(result_file) else {}
    result.update(values)
    with open(result_file, 'w') as f:
        json.dump(result, f, indent=2)


def configure(args):
    from gle_brian import devices, standalone
    devices.configure_cuda(compute_capability=args.compute_capability)
    if args.dry_run:
        standalone.StandaloneProject.compile = False


def dry_run_done(directory):
    """Whether a dry run generated the CUDA project (its run then fails: no binary, or no GPU)."""
    return os.path.isfile(os.path.join(directory, 'makefile'))


def check_parity(args, directory):
    from make_gpu_reference import REFERENCE, run_parity
    reference = np.load(REFERENCE)
    weights = [reference[f'weights_{l}'] for l in range(3)]
    biases = [reference[f'biases_{l}'] for l in range(3)]
    start = time.perf_counter()
    try:
        traces = run_parity('cuda_standalone', weights, biases, reference['x'], reference['y'], directory,
                            projection=args.projection)
    except (RuntimeError, OSError):
        if args.dry_run and dry_run_done(directory):
            emit(args.result, generated=True, seconds=time.perf_counter() - start)
            return
        raise
    deviations = {key: float(np.abs(values - reference[key]).max() / max(np.abs(reference[key]).max(), 1e-300))
                  for key, values in traces.items()}
    worst = max(deviations, key=deviations.get)
    emit(args.result, projection=args.projection, passed=deviations[worst] <= TOLERANCE, tolerance=TOLERANCE,
         max_relative_deviation=deviations[worst], worst_trace=worst, relative_deviations=deviations,
         seconds=time.perf_counter() - start)


def speed_network(args, directory):
    """The network of a speed part, one run's input and target, and what describes it."""
    from brian2 import ms
    from gle_brian import GLENetwork, Layer
    if args.part == 'mnist1d':
        from models import mnist1d_e2e
        batch, steps = args.n, 360
        rng = np.random.default_rng(batch)
        x = rng.normal(size=(steps, batch, 1))
        y = np.zeros((steps, batch, 10))
        y[:, np.arange(batch), rng.integers(0, 10, batch)] = 1.0
        net = mnist1d_e2e.build('cuda_standalone', batch, seed=12, directory=directory, projection=args.projection)
        synapses = batch * sum(a * b for a, b in zip(net.sizes[:-1], net.sizes[1:]))
        return net, x, y, dict(model='mnist1d_e2e', batch=batch, steps=steps, synapses=synapses,
                               projection=args.projection)
    n, steps = args.n, STEPS.get(args.n, 200)
    layers = [Layer(n, 'tanh', tau_m=1 * ms, tau_r=0.1 * ms), Layer(n, 'tanh', tau_m=1 * ms, tau_r=0.1 * ms),
              Layer(n, 'linear', tau_m=1 * ms)]
    rng = np.random.default_rng(n)
    x, y = rng.normal(size=(steps, n)), rng.normal(size=(steps, n))
    net = GLENetwork(n, layers, dt=0.01 * ms, device='cuda_standalone', loss='mse', beta=0.1, seed=0,
                     directory=directory, projection=args.projection)
    return net, x, y, dict(N=n, steps=steps, synapses=3 * n * n, projection=args.projection)


def measure_speed(args, directory):
    start = time.perf_counter()
    net, x, y, description = speed_network(args, directory)
    steps = description['steps']
    emit(args.result, setup_s=time.perf_counter() - start, **description)
    start = time.perf_counter()
    try:
        net.run(x, y)                               # generates, compiles and runs
    except (RuntimeError, OSError):
        if args.dry_run and dry_run_done(directory):
            emit(args.result, generated=True, generate_s=time.perf_counter() - start)
            return
        raise
    device = net.project.brian_device
    emit(args.result, build_and_first_run_s=time.perf_counter() - start,
         compile_s=device.timers.get('compile', {}).get('make'),
         first_run_us_per_step=device._last_run_time / steps * 1e6,
         us_per_step=device._last_run_time / steps * 1e6, timed_run='first')
    if description['synapses'] <= SECOND_RUN_SYNAPSES:
        start = time.perf_counter()
        net.run(x, y)
        emit(args.result, us_per_step=device._last_run_time / steps * 1e6, timed_run='second',
             wall_us_per_step=(time.perf_counter() - start) / steps * 1e6)
    emit(args.result, finite=bool(np.all(np.isfinite(net.output.r[:]))))


def run_part(args):
    """One part, in this process (called by :func:`main` through a subprocess)."""
    configure(args)
    check_parity(args, args.directory) if args.part == 'parity' else measure_speed(args, args.directory)


def command_output(*command):
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as error:
        return f'unavailable ({error})'


def environment():
    import brian2
    try:
        import brian2cuda
        brian2cuda_version = brian2cuda.__version__
    except ImportError:
        brian2cuda_version = None
    return {'python': sys.version.split()[0], 'platform': platform.platform(), 'cpus': os.cpu_count(),
            'brian2': brian2.__version__, 'brian2cuda': brian2cuda_version, 'numpy': np.__version__,
            'nvidia_smi': command_output('nvidia-smi', '--query-gpu=name,compute_cap,driver_version,memory.total',
                                         '--format=csv,noheader'),
            'nvcc': command_output('nvcc', '--version').splitlines()[-1:],
            'CUDA_VISIBLE_DEVICES': os.environ.get('CUDA_VISIBLE_DEVICES')}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=list(SIZES), help='N of the speed runs')
    parser.add_argument('--mnist-batches', type=int, nargs='*', default=list(MNIST_BATCHES),
                        help='batch sizes of the MNIST-1D speed runs (none: skip them)')
    parser.add_argument('--projections', nargs='+', choices=['dense', 'synapses'], default=['dense', 'synapses'],
                        help='kinds of projection checked and timed (default: both)')
    parser.add_argument('--no-parity', action='store_true', help='skip the parity check')
    parser.add_argument('--budget', type=float, default=540, help='seconds for all parts (default: %(default)s)')
    parser.add_argument('--out', default=os.environ.get('OUT') or os.path.join('output', 'gpu_check'))
    parser.add_argument('--build-dir', default=None, help='where projects are built (default: the temp folder)')
    parser.add_argument('--compute-capability', type=float, default=None,
                        help='GPU architecture to compile for (default: that of the GPU; 9.0 in dry runs)')
    parser.add_argument('--dry-run', action='store_true', help='generate the CUDA code only (no GPU needed)')
    parser.add_argument('--part', choices=['parity', 'speed', 'mnist1d'], help=argparse.SUPPRESS)
    parser.add_argument('--n', type=int, help=argparse.SUPPRESS)          # N (speed) or batch size (mnist1d)
    parser.add_argument('--projection', help=argparse.SUPPRESS)
    parser.add_argument('--result', help=argparse.SUPPRESS)
    parser.add_argument('--directory', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.dry_run and args.compute_capability is None:
        args.compute_capability = 9.0
    if args.part:
        return run_part(args)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit('stopped (SIGTERM)'))   # stop the running part too
    os.makedirs(args.out, exist_ok=True)
    report = {'dry_run': args.dry_run, 'environment': environment(), 'parity': {}, 'speed': []}
    report_file = os.path.join(args.out, 'gpu_check.json')
    parts = (([] if args.no_parity else [('parity', None, p) for p in args.projections])
             + [('speed', n, p) for n in args.sizes for p in args.projections]
             + [('mnist1d', batch, p) for batch in args.mnist_batches for p in args.projections])
    start = time.monotonic()
    for part, n, projection in parts:
        left = args.budget - (time.monotonic() - start)
        name = (part if n is None else f'{part}_{n}') + f'_{projection}'
        result_file = os.path.join(args.out, f'{name}.json')
        if os.path.exists(result_file):
            os.remove(result_file)
        command = [sys.executable, os.path.abspath(__file__), '--part', part, '--result', result_file,
                   '--projection', projection]
        if n is not None:
            command += ['--n', str(n)]
        if args.compute_capability is not None:
            command += ['--compute-capability', str(args.compute_capability)]
        if args.dry_run:
            command.append('--dry-run')
        directory = tempfile.mkdtemp(prefix=f'gle_gpu_check_{name}_', dir=args.build_dir)
        command += ['--directory', directory]
        try:
            status = run_with_limit(command, left, os.path.join(args.out, f'{name}.log'))
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        result = json.load(open(result_file)) if os.path.exists(result_file) else {}
        result['status'] = status
        print(f'{name}: {json.dumps(result)[:400]}', flush=True)
        if part == 'parity':
            report['parity'][projection] = result
        else:
            report['speed'].append(result)
        report['seconds'] = time.monotonic() - start
        with open(report_file, 'w') as f:
            json.dump(report, f, indent=2)
    print(f'wrote {report_file} after {report["seconds"]:.0f} s')
    parities = list(report['parity'].values())
    return 1 if any(r.get('passed') is False or r['status'] != 'ok' for r in [*parities, *report['speed']]) else 0


def run_with_limit(command, seconds, log):
    """Run ``command`` with its output in ``log``; stop it (and the compilers it started) after ``seconds``."""
    if seconds < 20:
        return 'skipped: out of time'
    with open(log, 'w') as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                   env=dict(os.environ, CUDA_MODULE_LOADING='EAGER'))
        try:
            code = process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            if process.poll() is None:          # out of time, or this script was stopped
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    if code is None:
        return f'stopped after {seconds:.0f} s'
    if code:
        with open(log) as f:
            return f'failed (exit {code}): ' + f.read()[-800:]
    return 'ok'


if __name__ == '__main__':
    sys.exit(main())
