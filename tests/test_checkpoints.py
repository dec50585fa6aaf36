"""Checkpoints: unreadable files and networks built otherwise are refused clearly; states load all or nothing;
atomic writes clean up what a killed write left."""
import os
import time

import numpy as np

from gle_brian.results import STALE_SECONDS, save_npz, write_json


def test_killed_write_leftovers_are_removed_at_the_next_write(tmp_path):
    """A write killed before its rename leaves '.<name>.XXXXXXXX<ext>'; the next write of that file removes
    it, but keeps a fresh one (a concurrent writer's) and the temporary files of other destinations."""
    old = time.time() - STALE_SECONDS - 10
    leftovers = {name: tmp_path / name for name in ('.checkpoint.npz.k1ll3d_x.npz', '.checkpoint.npz.wr1t1ng_.npz',
                                                    '.metrics.json.k1ll3d_x.json')}
    for path in leftovers.values():
        path.write_bytes(b'PK half a file')
        os.utime(path, (old, old))
    now = time.time()
    os.utime(leftovers['.checkpoint.npz.wr1t1ng_.npz'], (now, now))
    save_npz(tmp_path / 'checkpoint.npz', w=np.arange(3.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ['.checkpoint.npz.wr1t1ng_.npz',
                                                          '.metrics.json.k1ll3d_x.json', 'checkpoint.npz']
    write_json(tmp_path / 'metrics.json', {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ['.checkpoint.npz.wr1t1ng_.npz', 'checkpoint.npz',
                                                          'metrics.json']
