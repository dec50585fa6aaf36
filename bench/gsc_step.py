"""Speech commands: the time of one step of the full-size network (32 -> 3 x 750 -> 12, batch 256, Adam on every
weight and bias, cross-entropy) on cpp_standalone, and the time of an epoch projected from it.

The step time is Brian2's own counter of the simulation loop on the run after the compiling one (process start
and file transfer excluded). The projection: the training split of speech_commands_v0.02 (84,843 clips, of them
30,769 of the ten command words, plus 10 % of those as silence: 87,920 samples, 344 runs of 256 samples of 820
steps) and the validation split (3,643 command-word clips plus 10 % unknown and 10 % silence: 4,373 samples, 18
runs). Prints one JSON line. Command::

    python -m bench.gsc_step --steps 40
    python -m bench.gsc_step --steps 40 --threads 1
    python -m bench.gsc_step --steps 40 --blas never        # the products as loops, not OpenBLAS
"""
import argparse
import json
import math
import tempfile
import time

import numpy as np

TRAINING_SAMPLES, VALIDATION_SAMPLES, STEPS_PER_SAMPLE = 87_920, 4_373, 820


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--steps', type=int, default=40, help='steps per timed run')
    parser.add_argument('--batch', type=int, default=256)
    parser.add_argument('--group-size', type=int, default=150)
    parser.add_argument('--threads', type=int, default=0,
                        help="threads (prefs.devices.cpp_standalone.openmp_threads; 0: the network's choice)")
    parser.add_argument('--blas', default='auto', choices=['auto', 'always', 'never'],
                        help='the dense products with OpenBLAS (prefs.gle_brian.blas)')
    args = parser.parse_args(argv)
    from brian2 import prefs
    from models import gsc
    prefs.devices.cpp_standalone.openmp_threads = args.threads
    prefs.gle_brian.blas = args.blas
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.steps, args.batch, 32))
    y = np.broadcast_to(np.eye(12)[rng.integers(12, size=args.batch)], (args.steps, args.batch, 12))
    started = time.perf_counter()
    net = gsc.build('cpp_standalone', args.batch, seed=0, group_size=args.group_size,
                    directory=tempfile.mkdtemp(prefix='gsc_step_'))
    net.run(x, y)                                  # generates and compiles
    build = time.perf_counter() - started
    started = time.perf_counter()
    net.run(x, y)
    wall = time.perf_counter() - started
    step = net.project.brian_device._last_run_time / args.steps
    runs = math.ceil(TRAINING_SAMPLES / args.batch) + math.ceil(VALIDATION_SAMPLES / args.batch)
    print(json.dumps({'group_size': args.group_size, 'batch': args.batch, 'steps': args.steps,
                      'threads': net.runner.threads, 'blas': net.projections[0].dense_projection.blas,
                      'parameters': int(sum(w.size for w in net.weights) + sum(b.size for b in net.biases)),
                      'build_and_first_run_s': round(build, 1), 'step_ms': round(1e3 * step, 2),
                      'run_wall_s': round(wall, 2), 'epoch_hours_projected': round(
                          runs * STEPS_PER_SAMPLE * step / 3600, 1)}))


if __name__ == '__main__':
    main()
