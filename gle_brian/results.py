"""Writing results so that nothing written before is lost: every file is replaced atomically, and a folder that a
process works in is locked against other processes.

A file is first written next to its destination, flushed to the disk and then renamed over it
(``os.replace``), so a run that is killed (or a machine that loses power) leaves either the old file or the
new one, never half of one. :func:`check_folder` refuses a folder that cannot be written before any work is
done; :func:`lock_folder` holds a folder (a standalone project, a sweep's output, a sweep task) for one
process.

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

from .errors import GLEOutputError

__all__ = ['atomic_path', 'check_folder', 'check_destination', 'write_json', 'save_figure', 'save_npz', 'lock_folder',
           'FolderInUse']


#: seconds without a change after which a temporary file of an earlier write counts as left over
STALE_SECONDS = 60


def check_folder(folder, what='output folder', make=True):
    """Raise :class:`~gle_brian.errors.GLEOutputError` naming ``what`` and the fix when ``folder`` is a file, lies
    below a file, cannot be made or cannot be written; make it (and its parents) if missing and ``make``. Returns the
    folder. Called before work whose results go there."""
    fix = f'give the {what} as a folder you can write to'
    existing = os.path.abspath(folder)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        where = 'is a file' if existing == os.path.abspath(folder) else f'cannot be made: {existing} is a file'
        raise GLEOutputError(f'the {what} {folder} {where}, not a folder; {fix}.')
    if not os.access(existing, os.W_OK | os.X_OK):
        where = 'is' if existing == os.path.abspath(folder) else f'cannot be made: {existing} is'
        raise GLEOutputError(f'the {what} {folder} {where} read-only for this user; {fix}.')
    if make:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as error:
            raise GLEOutputError(f'the {what} {folder} cannot be made ({error.strerror or error}); {fix}.') from None
    return folder


def check_destination(path):
    """Refuse (:class:`~gle_brian.errors.GLEOutputError`) a ``path`` that is a folder or lies in a folder that is a
    file or read-only; makes its folder if missing. Returns the folder."""
    if os.path.isdir(path):
        raise GLEOutputError(f'{path} is a folder; give the path of a file to write.')
    return check_folder(os.path.dirname(os.path.abspath(path)), f'folder of {os.path.basename(path)}')


def _sync(path):
    """Flush ``path`` (a file or folder) to the disk."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it is flushed to the disk and replaces ``path``, on error
    it is removed (``path`` is then as it was). A ``path`` that is a folder, or whose folder is a file or read-only,
    raises :class:`~gle_brian.errors.GLEOutputError` naming it before anything is written.

    The temporary file is ``.<name>.XXXXXXXX<ext>`` in the folder of ``path``. A process that is killed
    while writing leaves it behind: such leftovers of the same destination are removed at the next write,
    once unchanged for ``STALE_SECONDS`` (younger ones may belong to a concurrent writer and are kept).
    """
    folder = check_destination(path)
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
        _sync(temporary)
        os.replace(temporary, path)
        _sync(folder)
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


def lock_folder(folder, what, fix, wait=False):
    """Hold an exclusive lock on ``folder`` (a file ``.gle_brian.lock`` in it, made with the folder) for this process,
    until the returned open file is closed or the process ends. A folder another process holds raises
    :class:`FolderInUse` naming ``what`` it is, the folder, the holder's pid and the ``fix`` (with ``wait``: waits until
    the holder lets go); a folder that cannot be made or written raises
    :class:`~gle_brian.errors.GLEOutputError` naming it."""
    check_folder(folder, what)
    try:
        handle = open(os.path.join(folder, '.gle_brian.lock'), 'a+')
    except OSError as error:
        raise GLEOutputError(f'{folder} cannot hold a {what} ({error.strerror or error}); give a folder you can '
                             'write to.') from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
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
