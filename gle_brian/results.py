"""Writing results so that nothing written before is lost: every file is replaced atomically, and a folder that a
process works in is locked against other processes.

A file is first written next to its destination and then renamed over it (``os.replace``), so a run
that is killed leaves either the old file or the new one, never half of one. :func:`lock_folder` holds a
folder (a standalone project, a sweep's output) for one process.

Example::

    >>> from gle_brian.results import write_json
    >>> write_json('results/metrics.json', {'loss': 1e-3})          # doctest: +SKIP
"""
import fcntl
import glob
import json
import os
import tempfile
import time
from contextlib import contextmanager

import numpy as np

__all__ = ['atomic_path', 'write_json', 'save_figure', 'save_npz', 'lock_folder', 'FolderInUse']


#: seconds without a change after which a temporary file of an earlier write counts as left over
STALE_SECONDS = 60


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    The temporary file is ``.<name>.XXXXXXXX<ext>`` in the folder of ``path``. A process that is killed
    while writing leaves it behind: such leftovers of the same destination are removed at the next write,
    once unchanged for ``STALE_SECONDS`` (younger ones may belong to a concurrent writer and are kept).
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    prefix, suffix = '.' + os.path.basename(path) + '.', os.path.splitext(path)[1]
    for leftover in glob.glob(os.path.join(glob.escape(folder), glob.escape(prefix) + '?' * 8 + glob.escape(suffix))):
        try:
            if time.time() - os.path.getmtime(leftover) > STALE_SECONDS:
                os.remove(leftover)
        except FileNotFoundError:      # removed meanwhile by another writer
            pass
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)      # the permissions of a plain open(), not mkstemp's 0600
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_json(path, data):
    """Write ``data`` as indented JSON to ``path``, atomically."""
    with atomic_path(path) as temporary, open(temporary, 'w') as f:
        json.dump(data, f, indent=2)
    return path


def save_figure(fig, path, **kwargs):
    """Save a matplotlib figure to ``path`` (format from the extension), atomically."""
    with atomic_path(path) as temporary:
        fig.savefig(temporary, format=os.path.splitext(path)[1][1:] or 'png', **kwargs)
    return path


def save_npz(path, **arrays):
    """Save arrays to an ``.npz`` file, atomically."""
    with atomic_path(path) as temporary, open(temporary, 'wb') as f:
        np.savez(f, **arrays)
    return path


class FolderInUse(RuntimeError):
    """Another process holds the folder (:func:`lock_folder`)."""


def lock_folder(folder, what, fix):
    """Hold an exclusive lock on ``folder`` (a file ``.gle_brian.lock`` in it, made with the folder) for this process,
    until the returned open file is closed or the process ends. A folder another process holds raises
    :class:`FolderInUse` naming ``what`` it is, the folder, the holder's pid and the ``fix``; a folder that cannot be
    made or written raises ``OSError`` with a message that names it."""
    try:
        os.makedirs(folder, exist_ok=True)
        handle = open(os.path.join(folder, '.gle_brian.lock'), 'a+')
    except OSError as error:
        raise OSError(f'{folder} cannot hold a {what} ({error.strerror or error}); give a folder you can write '
                      'to.') from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or 'unknown'
        handle.close()
        raise FolderInUse(f'the {what} {folder} is in use by another process (pid {holder}); {fix}.') from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
