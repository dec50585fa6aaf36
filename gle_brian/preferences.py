"""gle-brian's settings, registered as Brian2 preferences: ``prefs.gle_brian.<name>``, set like any of Brian2's.

* ``keep_recordings``: ``'last'`` (default) or ``'all'``. On runtime targets (numpy, cython) the package's
  monitors keep the last run's samples only, as a standalone binary does (each of its runs records afresh); with
  ``'all'`` they keep the samples of every run, so a long session grows.
* ``blas``: ``'auto'`` (default), ``'always'`` or ``'never'``: whether the C++ code of dense projections computes
  its products with OpenBLAS (``auto``: at batches of 2 or more and projections of 10,000 weights or more, when the
  ``scipy-openblas64`` wheel is installed; :func:`gle_brian.dense.uses_blas`).
* ``precompiled_header``: ``True`` (default) or ``False``: whether C++ standalone projects include one precompiled
  header of the standard headers in every code object (:mod:`gle_brian.compilation`; a third of the compile time).
* ``results_in_memory``: ``True`` (default) or ``False``: whether a compiled standalone network's runs after the
  first write their results (the state read back after each run, the recordings) and their input files into a
  folder in memory (``/dev/shm``) when there is one with room for four times a run's results, and they are at most
  1 GB (:meth:`gle_brian.standalone.StandaloneProject.run`).
* ``max_recording_bytes``: the most memory a network's monitors may hold in a run, in bytes (default: half of this
  machine's memory). A run whose recording would hold more is refused before it starts, with the fix.
* ``cores``: the cores a network's threads may use (default 0: all this process may run on); a large network
  takes them all (:func:`gle_brian.openmp.openmp_threads`). A sweep sets it to each task's share of the machine.

Example::

    >>> from brian2 import prefs
    >>> prefs.gle_brian.keep_recordings
    'last'
    >>> prefs.gle_brian.max_recording_bytes = 2e9      # 2 GB                  # doctest: +SKIP
"""
import os

from brian2 import prefs
from brian2.core.preferences import BrianPreference

__all__ = ['KEEP_RECORDINGS', 'BLAS_CHOICES']

KEEP_RECORDINGS = ('last', 'all')
BLAS_CHOICES = ('auto', 'always', 'never')


def _half_of_the_memory():
    try:
        return float(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') // 2)
    except (ValueError, OSError, AttributeError):     # a system that does not tell
        return 8e9


if 'gle_brian' not in prefs.pref_register:
    prefs.register_preferences(
        'gle_brian', "gle-brian's settings",
        keep_recordings=BrianPreference(
            'last', "What the package's monitors keep on runtime targets: 'last' (the last run's samples, as on "
                    "standalone targets) or 'all' (every run's).", validator=lambda value: value in KEEP_RECORDINGS),
        blas=BrianPreference(
            'auto', "Dense products in C++ with OpenBLAS: 'auto' (batches of large projections, when "
                    "scipy-openblas64 is installed), 'always' or 'never'.",
            validator=lambda value: value in BLAS_CHOICES),
        precompiled_header=BrianPreference(
            True, 'C++ standalone projects: precompile the standard headers once (in the user cache folder) and '
                  'include them in every code object.', validator=lambda value: isinstance(value, bool)),
        results_in_memory=BrianPreference(
            True, 'Standalone runs after the first write their results and inputs into a folder in memory (/dev/shm) '
                  "when there is one with room for four times a run's results, and they are at most 1 GB; else into "
                  'the project folder.',
            validator=lambda value: isinstance(value, bool)),
        max_recording_bytes=BrianPreference(
            _half_of_the_memory(), "The most memory (bytes) a network's monitors may hold in a run; a run that would "
                                   'hold more is refused before it starts. Default: half of the machine\'s memory.',
            validator=lambda value: isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0),
        cores=BrianPreference(
            0, "The cores a network's threads may use (0: all this process may run on).",
            validator=lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= 0))
