"""Wall time of the full LagLine run (405,000 steps, batch 100, GLE): Brian2 targets next to the numpy mirror.

The Brian2 runs are ``models.lagline.run``: ``wall_seconds`` from building the network to the end of its runs
(compiling included), ``end_to_end_seconds`` also making the input and the teacher's output; the numpy mirror
runs the same schedule step by step (``ReferenceNetwork`` with the same Adam learning), without
recording. All runs use the same input, teacher and initial student.

Run::

    python -m bench.lagline_speed --out bench/lagline_speed.json
"""
import argparse
import json
import time

import numpy as np
from brian2 import ms

from gle_brian import Adam, Learning, ReferenceNetwork
from gle_brian.data import smoothed_steps
from gle_brian.results import write_json
from models import lagline


def mirror_run(train, init, batch, seed, lr=1e-4, beta=0.01):
    """The LagLine schedule on the numpy mirror; returns (wall seconds, final w, final tau_m in ms)."""
    steps = int(round((train + init) / float(lagline.DT / ms)))
    switch, learn_from = (int(round(t / float(lagline.DT / ms))) for t in (lagline.CHUNK, init))
    x = smoothed_steps(steps * lagline.DT, lagline.DT, batch=batch, seed=seed)
    teacher = lagline.teacher_outputs(x)
    target = np.vstack([np.zeros((1, batch)), teacher[:-1]])
    w0, tau0 = lagline.initial_student(seed)
    start = time.perf_counter()
    net = ReferenceNetwork(1, lagline.layers(lagline.TEACHER['tau_m']), [w0[:1, None], w0[1:, None]],
                           dt=lagline.DT, beta=beta, batch=batch,
                           learning=Learning(Adam(lr=lr), tau_m=True, tau_m_min=10 * lagline.DT))
    for n in range(steps):
        if n == switch:
            net.tau_m = [np.array([tau * 1e-3]) for tau in tau0]
        net.step(x[n][:, None], target[n][:, None], learn=n >= learn_from)
    return time.perf_counter() - start, [float(w[0, 0]) for w in net.W], [float(t[0]) * 1e3 for t in net.tau_m]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--train', type=float, default=4000.0, help='training time in ms (default: the full 4000)')
    parser.add_argument('--batch', type=int, default=100)
    parser.add_argument('--devices', nargs='+', default=['cpp_standalone', 'cython'])
    parser.add_argument('--skip-mirror', action='store_true', help='only the Brian2 runs (the mirror takes minutes)')
    parser.add_argument('--out', default=None)
    args = parser.parse_args(argv)
    rows = []
    for device in args.devices:
        start = time.perf_counter()
        metrics, _ = lagline.run('gle', train=args.train, device=device, batch=args.batch)
        rows.append({'runner': device, 'end_to_end_seconds': time.perf_counter() - start,
                     'wall_seconds': metrics['wall_seconds'], 'w': metrics['w'],
                     'tau_m_ms': metrics['tau_m_ms'], 'loss_end': metrics['loss_end'], 'steps': metrics['steps']})
        print(json.dumps(rows[-1]), flush=True)
    if not args.skip_mirror:
        wall, w, tau_m = mirror_run(args.train, 50.0, args.batch, seed=1)
        rows.append({'runner': 'numpy mirror', 'wall_seconds': wall, 'w': w, 'tau_m_ms': tau_m})
        print(json.dumps(rows[-1]), flush=True)
    print('| runner | wall time (s) | final w | final tau_m (ms) |\n|---|---|---|---|')
    for row in rows:
        print(f"| {row['runner']} | {row['wall_seconds']:.1f} | {row['w'][0]:.5f}, {row['w'][1]:.5f} | "
              f"{row['tau_m_ms'][0]:.5f}, {row['tau_m_ms'][1]:.5f} |")
    if args.out:
        write_json(args.out, rows)


if __name__ == '__main__':
    main()
