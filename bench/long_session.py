"""Long sessions: many short runs of one small network on a runtime target, the time of each run and the memory of
the process, per block of runs.

The network: 2 inputs -> 8 tanh -> 1 linear output, MSE against a random target, rates recorded, 20 steps a run
(dt 0.1 ms). Prints one JSON line per block of ``--block`` runs (mean ms per run, resident memory in MB) and a last
line with the ratio of the last block to the first after the warm-up (the first block). Command::

    python -m bench.long_session --device numpy --runs 1000 --block 100
"""
import argparse
import json
import os
import time

import numpy as np
from brian2 import ms


def resident_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='numpy', choices=['numpy', 'cython'])
    parser.add_argument('--runs', type=int, default=1000)
    parser.add_argument('--block', type=int, default=100)
    args = parser.parse_args(argv)
    from gle_brian import GLENetwork, Layer
    net = GLENetwork(2, [Layer(8, 'tanh', tau_m=1 * ms), Layer(1, tau_m=1 * ms)], dt=0.1 * ms, device=args.device,
                     loss='mse', record=['r'], seed=1)
    rng = np.random.default_rng(0)
    blocks = []
    for block in range(args.runs // args.block):
        started = time.perf_counter()
        for _ in range(args.block):
            net.run(rng.random((20, 2)), rng.random((20, 1)))
        blocks.append({'device': args.device, 'runs': (block + 1) * args.block,
                       'ms_per_run': 1e3 * (time.perf_counter() - started) / args.block,
                       'resident_mb': round(resident_mb(), 1)})
        print(json.dumps(blocks[-1]), flush=True)
    first, last = blocks[1 if len(blocks) > 2 else 0], blocks[-1]
    print(json.dumps({'device': args.device, 'last_over_first': last['ms_per_run'] / first['ms_per_run'],
                      'memory_growth_mb': last['resident_mb'] - first['resident_mb']}))


if __name__ == '__main__':
    main()
