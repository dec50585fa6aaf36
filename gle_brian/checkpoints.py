"""Checkpoints: a network's state, its settings and the caller's metadata in one file of plain data.

A checkpoint is an ``.npz`` of plain arrays (no pickles): ``format`` (the layout, :data:`FORMAT`), ``settings``
and ``meta`` (JSON text) and ``state/<group>.<variable>`` (:meth:`~gle_brian.GLENetwork.get_state`). Nothing in
it is run: activations are stored by name and expressions, which are parsed by the bounded parser of
:mod:`gle_brian.activations`, never evaluated as Python. It is written atomically
(:func:`gle_brian.results.atomic_path`).

Loading checks everything before anything is changed: the file, its format, the network's settings, the
caller's metadata (``check``) and every state array; the network is written only when all of them fit.

Layouts (``format``): 1, the files written before the format was recorded (no ``format`` entry), is read as 2,
the same arrays. A file of a later format (a newer gle_brian) is refused with a clear error.

Example::

    >>> save_checkpoint('out/checkpoint.npz', net, {'epoch': 3})             # doctest: +SKIP
    >>> load_checkpoint('out/checkpoint.npz', net2)                           # doctest: +SKIP
    {'epoch': 3}
"""
import json
import zipfile

import numpy as np

from .activations import Activation
from .errors import GLEConfigError, GLEInputError
from .results import save_npz

__all__ = ['FORMAT', 'save_checkpoint', 'load_checkpoint', 'read_meta']

#: the layout of the checkpoints this version writes (and the latest it reads)
FORMAT = 2

#: the largest checkpoint entry of JSON text read (characters)
MAX_JSON = 50_000_000

#: how a refused checkpoint is dealt with
FIX = 'delete it or use resume=False to start afresh'


def save_checkpoint(path, net, meta):
    """Write the network state, its :meth:`~gle_brian.GLENetwork.settings` and ``meta`` (JSON-able) to ``path``
    atomically; returns ``path``."""
    arrays = {f'state/{key}': value for key, value in net.get_state().items()}
    return save_npz(path, format=np.array(FORMAT), meta=np.array(json.dumps(meta)),
                    settings=np.array(json.dumps(net.settings())), **arrays)


def load_checkpoint(path, net, check=None):
    """Restore the network state from ``path`` into ``net``; returns the checkpoint's ``meta`` dict.

    ``check(meta)``, when given, is called before anything is written and may raise to refuse the file (e.g. the
    training state a resumed training needs). Raises :class:`GLEInputError` when the file is not a readable
    checkpoint (truncated, empty, foreign, of a later format, a state that does not fit) and
    :class:`GLEConfigError` when ``net`` was built with other settings than the checkpoint's network; ``net`` is
    then unchanged.
    """
    meta, settings, state = _read(path)
    try:
        differences = _differences(_by_values(settings), _by_values(net.settings()))
    except RecursionError:
        raise GLEInputError(f'{path} is not a checkpoint of gle_brian (its settings are nested too deeply); '
                            f'{FIX}.') from None
    if differences:
        raise GLEConfigError(f'{path} was written by a network built with other settings (checkpoint -> this '
                             f'network): {"; ".join(differences[:8])}{"; ..." * (len(differences) > 8)}. Build the '
                             f'network as before to resume, or {FIX}.')
    if check is not None:
        check(meta)
    try:
        net.set_state(state)
    except GLEInputError as error:
        raise GLEInputError(f'{path}: {error} (a checkpoint of an earlier layout of the network: {FIX})') from None
    return meta


def read_meta(path):
    """The ``meta`` dict of the checkpoint ``path``, read (and checked as :func:`load_checkpoint` checks it) without a
    network, e.g. to know the epoch a resume continues from."""
    return _read(path)[0]


def _read(path):
    """``(meta, settings, state)`` of the checkpoint ``path``; :class:`GLEInputError` for a file that is not a
    readable checkpoint of a format this version reads."""
    try:
        with np.load(path, allow_pickle=False) as f:
            version = int(f['format']) if 'format' in f.files else 1
            meta, settings = _json(f['meta']), _json(f['settings'])
            state = {key[len('state/'):]: f[key] for key in f.files if key.startswith('state/')}
    except (OSError, EOFError, KeyError, ValueError, TypeError, RecursionError, zipfile.BadZipFile) as error:
        raise GLEInputError(f'{path} is not a readable checkpoint of this version of gle_brian '
                            f'({type(error).__name__}: {error}); {FIX}.') from None
    if version > FORMAT or version < 1:
        raise GLEInputError(f'{path} has checkpoint format {version}; this gle_brian reads formats 1 to {FORMAT} '
                            f'(a later version of gle_brian wrote it): update gle_brian, or {FIX}.')
    if not isinstance(meta, dict) or not isinstance(settings, dict):
        raise GLEInputError(f'{path} is not a checkpoint of gle_brian (its meta and settings are not JSON objects); '
                            f'{FIX}.')
    return meta, settings, state


def _json(array):
    """The JSON text of a 0-d string array, parsed."""
    if array.dtype.kind != 'U' or array.ndim != 0 or len(str(array)) > MAX_JSON:
        raise ValueError(f'an entry is not JSON text of at most {MAX_JSON} characters')
    return json.loads(str(array))


def _by_values(settings):
    """``settings`` with each layer's activation replaced by what it computes (:meth:`Activation.values`), so
    that an activation whose expressions were written otherwise (e.g. in another version) is still the same;
    settings added in later versions take their defaults when a checkpoint lacks them."""
    if not isinstance(settings.get('layers'), list):
        return settings
    n = len(settings['layers'])
    settings = {'projections': [['input' if l == 0 else l - 1, l, settings.get('feedback')] for l in range(n)],
                'connect': [None] * n,
                'signs': [None] * n, 'outputs': [n - 1], **settings}
    layers = []
    for layer in settings['layers']:
        try:
            layer = dict(layer, activation=Activation(**layer['activation']).values())
        except (TypeError, KeyError, ValueError, GLEConfigError):
            pass                        # not an activation this version can read: compared as it is
        layers.append(layer)
    return dict(settings, layers=layers)


def _differences(saved, current, name='settings'):
    """``'name: saved -> current'`` for every entry of two nested settings dicts that differs."""
    if isinstance(saved, dict) and isinstance(current, dict):
        return [line for key in sorted(set(saved) | set(current))
                for line in _differences(saved.get(key), current.get(key), f'{name}[{key!r}]')]
    if isinstance(saved, list) and isinstance(current, list) and len(saved) == len(current) \
            and any(isinstance(item, (dict, list)) for item in saved):
        return [line for i, (a, b) in enumerate(zip(saved, current)) for line in _differences(a, b, f'{name}[{i}]')]
    return [] if saved == current else [f'{name}: {_short(saved)} -> {_short(current)}']


def _short(value, width=60):
    text = json.dumps(value)
    return text if len(text) <= width else text[:width - 3] + '...'
