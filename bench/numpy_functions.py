"""Seconds for a LagLine student run on numpy: log1p called through Brian2's unit-checking wrapper (Brian2's
default) and directly (as ``gle_brian.activations`` registers it), side by side in one process.

Run::

    python -m bench.numpy_functions
"""
import time

from brian2.codegen.generators.numpy_generator import NumpyCodeGenerator
from brian2.core.functions import DEFAULT_FUNCTIONS

from models import lagline


def timed():
    start = time.perf_counter()
    metrics, _ = lagline.run('gle', train=25.0, device='numpy')
    return time.perf_counter() - start, metrics['loss_end']


def main():
    implementations = DEFAULT_FUNCTIONS['log1p'].implementations._implementations
    direct = implementations.pop(NumpyCodeGenerator)      # without it Brian2 adds its wrapper on first use
    wrapped_seconds, wrapped_loss = timed()
    implementations.pop('numpy')
    implementations[NumpyCodeGenerator] = direct
    direct_seconds, direct_loss = timed()
    print(f'wrapped: {wrapped_seconds:.1f} s, direct: {direct_seconds:.1f} s '
          f'({wrapped_seconds / direct_seconds:.2f}x); loss {wrapped_loss!r} and {direct_loss!r}')


if __name__ == '__main__':
    main()
