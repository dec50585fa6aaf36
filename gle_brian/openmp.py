"""Brian2's OpenMP option for C++ standalone builds: how many threads a network uses, and the marks of the loops
that Brian2 knows to be independent.

:class:`~gle_brian.GLENetwork` builds its cpp_standalone project for :func:`openmp_threads` threads (all cores
for large projections, one for small ones, or the user's ``prefs.devices.cpp_standalone.openmp_threads``), inside
:func:`openmp`. Importing this module also marks Brian2's independent C++ loops for gcc's vectoriser in builds
without OpenMP (below). The dense products share their work among the threads themselves (:mod:`gle_brian.dense`).

Example::

    >>> from gle_brian.openmp import openmp_threads, PARALLEL_WORK
    >>> openmp_threads(work=PARALLEL_WORK - 1)        # a small network: one thread
    1
"""
import contextlib
import logging
import os

from brian2 import prefs
from brian2.devices.cpp_standalone.codeobject import CPPStandaloneCodeObject

from . import preferences  # noqa: F401  (registers prefs.gle_brian)

__all__ = ['PARALLEL_WORK', 'openmp_threads', 'cores', 'openmp']

# Brian2 marks the loops of its C++ templates whose iterations are independent for OpenMP ('parallel-static'); without
# OpenMP they are marked '#pragma GCC ivdep' here. gcc does not rely on the generated code's __restrict pointers
# (block-scope copies of global arrays), and a loop that also gathers (the batch's shared b and tau_m, linked
# variables) is left scalar: with the mark, the Euler update, the dendrites and the output error are vectorised.
# Only the C++ standalone templater's own environment is changed (brian2cuda derives its templates from the original).
_brian_openmp_pragma = CPPStandaloneCodeObject.templater.env.globals['openmp_pragma']


def _openmp_pragma(pragma_type):
    pragma = _brian_openmp_pragma(pragma_type)
    return '#pragma GCC ivdep' if pragma_type == 'parallel-static' and not pragma else pragma


CPPStandaloneCodeObject.templater.env.globals['openmp_pragma'] = _openmp_pragma

#: cpp_standalone networks run on every core when a projection's product multiplies at least this many pairs of
#: numbers per step, on average (the batch times its weights); smaller ones on one thread, for which starting and
#: joining the threads of each of the step's loops costs more than it saves (measured in bench/RESULTS.md, under
#: "Threads": N = 1000, 1e6 per projection, 2.1x faster on 2 threads; MNIST-1D at batch 100, 2.5e5, 0.7x and
#: 1.2x in two runs; batch 30, 7.5e4, 0.9x)
PARALLEL_WORK = 500_000


def openmp_threads(work):
    """The threads of a cpp_standalone network whose projections multiply ``work`` pairs of numbers per step
    (on average).

    The user's ``prefs.devices.cpp_standalone.openmp_threads`` when set (1 or more); else (0, Brian2's default)
    every core this process may use (:func:`cores`) when ``work`` is at least :data:`PARALLEL_WORK`, and 1 below it.

    Example::

        >>> openmp_threads(work=1000 * 1000) == len(os.sched_getaffinity(0))     # N = 1000: all cores
        True
    """
    chosen = prefs.devices.cpp_standalone.openmp_threads
    if chosen:
        return int(chosen)
    return cores() if work >= PARALLEL_WORK else 1


def cores():
    """The cores this process may use: ``prefs.gle_brian.cores`` where set (a sweep sets it to each task's share of
    the machine, so that tasks side by side do not share cores: :mod:`gle_brian.sweep`), at most those it may run on.
    """
    available = len(os.sched_getaffinity(0))
    return min(available, prefs.gle_brian.cores) if prefs.gle_brian.cores else available


@contextlib.contextmanager
def openmp(threads):
    """Inside the block, cpp_standalone code is generated and compiled for ``threads`` threads (Brian2's OpenMP
    option; one thread: without OpenMP). The user's preference is restored afterwards.

    Brian2's warning that its OpenMP code 'is not yet well tested' is not shown for these builds: the tests compare
    the network built for two threads with the numpy mirror, every variable at every step.
    """
    settings = prefs.devices.cpp_standalone
    saved = settings.openmp_threads
    warning = logging.getLogger('brian2.devices.cpp_standalone.device.openmp')
    level = warning.level
    settings.openmp_threads = threads if threads > 1 else 0
    warning.setLevel(logging.ERROR)
    try:
        yield
    finally:
        settings.openmp_threads = saved
        warning.setLevel(level)
