"""Results files are replaced atomically: a failed write leaves the previous file intact."""
import json

import numpy as np
import pytest

from gle_brian.results import atomic_path, save_npz, write_json


def test_failed_write_keeps_previous_file(tmp_path):
    path = tmp_path / 'metrics.json'
    write_json(path, {'epoch': 1})
    with pytest.raises(RuntimeError):
        with atomic_path(path) as temporary, open(temporary, 'w') as f:
            f.write('{"epoch": 2, "half')
            raise RuntimeError('killed while writing')
    assert json.loads(path.read_text()) == {'epoch': 1}
    assert [p.name for p in tmp_path.iterdir()] == ['metrics.json']


def test_npz_round_trip(tmp_path):
    save_npz(tmp_path / 'w.npz', w=np.arange(3.0))
    np.testing.assert_array_equal(np.load(tmp_path / 'w.npz')['w'], [0, 1, 2])


def test_written_files_have_the_permissions_of_a_plain_open(tmp_path):
    plain = tmp_path / 'plain.json'
    plain.write_text('{}')
    write_json(str(tmp_path / 'atomic.json'), {})
    assert (tmp_path / 'atomic.json').stat().st_mode == plain.stat().st_mode
