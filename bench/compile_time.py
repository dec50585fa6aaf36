"""Compile time of a C++ standalone project with and without the precompiled header (gle_brian.compilation).

Each build runs in a process of its own (Brian2 holds one standalone project per process), side by side in one
run: the precompiled header with an empty cache (its first build), with the cache filled, and off (Brian2's
makefile as it is). The networks: MNIST-1D end to end (batch 100) and LagLine's GLE student (batch 100, learning
tau_m, recording), with the flags users get (``-O3``) and with the tests' ``-O0``.

Run::

    python -m bench.compile_time --out bench/compile_time.json
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from gle_brian.results import write_json

BUILD = r'''
import json, sys, time
from brian2 import prefs
from gle_brian import standalone
model, flags, precompiled = sys.argv[1], sys.argv[2], sys.argv[3] == '1'
if flags == '-O0':
    gcc = prefs.codegen.cpp.extra_compile_args_gcc
    prefs.codegen.cpp.extra_compile_args_gcc = ['-O0' if f == '-O3' else f for f in gcc]
prefs.gle_brian.precompiled_header = precompiled
make, seconds = standalone.StandaloneProject._make, {}
def timed(self):
    start = time.perf_counter(); make(self); seconds['make'] = time.perf_counter() - start
standalone.StandaloneProject._make = timed
import numpy as np
if model == 'mnist1d':
    from models import mnist1d_e2e
    net = mnist1d_e2e.build('cpp_standalone', batch=100, seed=0)
    net.run(np.zeros((10, 100, 1)))
else:
    from models import lagline
    from gle_brian import Adam, GLENetwork, Learning
    net = GLENetwork(1, lagline.layers([1.0, 2.0]), dt=lagline.DT, device='cpp_standalone', loss='mse', batch=100,
                     beta=0.01, learning=Learning(Adam(lr=1e-4), tau_m=True, tau_m_min=10 * lagline.DT),
                     record=['r', 'err', 'w', 'tau_m'], record_dt=10 * lagline.DT)
    net.run(np.zeros((10, 100, 1)), np.zeros((10, 100, 1)))
import glob, os
sources = glob.glob(os.path.join(net.project.directory, 'code_objects', '*.cpp'))
print(json.dumps({'code_objects': len(sources), **seconds}))
'''


def build(model, flags, precompiled, cache):
    """Seconds of ``make`` for one project built in a fresh process with the cache folder ``cache``."""
    env = dict(os.environ, XDG_CACHE_HOME=cache, PYTHONPATH=os.getcwd())
    result = subprocess.run([sys.executable, '-c', BUILD, model, flags, str(int(precompiled))], env=env,
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=None)
    args = parser.parse_args(argv)
    rows = []
    for model in ('mnist1d', 'lagline'):
        for flags in ('-O3', '-O0'):
            with tempfile.TemporaryDirectory() as cache:
                for label, precompiled in (('precompiled, empty cache', True), ('precompiled, cache filled', True),
                                           ('Brian2 makefile', False)):
                    row = {'model': model, 'flags': flags, 'build': label, **build(model, flags, precompiled, cache)}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    print('| model | flags | Brian2 makefile (s) | precompiled, empty cache (s) | precompiled, cache filled (s) | '
          'ratio (filled / Brian2) |\n|---|---|---|---|---|---|')
    for model in ('mnist1d', 'lagline'):
        for flags in ('-O3', '-O0'):
            seconds = {row['build']: row['make'] for row in rows if row['model'] == model and row['flags'] == flags}
            print(f"| {model} | {flags} | {seconds['Brian2 makefile']:.1f} | {seconds['precompiled, empty cache']:.1f}"
                  f" | {seconds['precompiled, cache filled']:.1f} | "
                  f"{seconds['precompiled, cache filled'] / seconds['Brian2 makefile']:.2f} |")
    if args.out:
        write_json(args.out, rows)


if __name__ == '__main__':
    main()
