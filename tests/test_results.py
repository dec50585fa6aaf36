"""Results files are replaced atomically (flushed to the disk, then renamed): a failed write leaves the previous file
intact; destinations that cannot be written are refused, naming them, before anything is written."""
import json
import os

import matplotlib.pyplot as plt
import numpy as np
import pytest

from gle_brian import GLEOutputError, cli
from gle_brian.results import atomic_path, check_folder, save_figure, save_npz, write_json


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


WRITERS = {'json': lambda path: write_json(path, {}), 'npz': lambda path: save_npz(path, w=np.zeros(2)),
           'figure': lambda path: save_figure(plt.figure(), path)}


@pytest.mark.parametrize('writer', WRITERS)
@pytest.mark.parametrize('where', ['folder is a file', 'path is a folder', 'missing folders'])
def test_every_writer_checks_its_destination_before_writing(writer, where, tmp_path):
    blocker = tmp_path / 'blocker'
    if where == 'folder is a file':
        blocker.write_text('kept')
        path, match = blocker / 'out.png', 'is a file, not a folder; give the folder of out.png as a folder you'
    elif where == 'path is a folder':
        blocker.mkdir()
        path, match = blocker, 'is a folder; give the path of a file to write'
    else:
        path, match = tmp_path / 'a' / 'b' / 'out.png', None
    if match is None:
        WRITERS[writer](str(path))
        assert path.is_file()
        return
    with pytest.raises(GLEOutputError, match=match):
        WRITERS[writer](str(path))
    assert sorted(p.name for p in tmp_path.rglob('*')) == ['blocker'] and \
        (blocker.is_dir() or blocker.read_text() == 'kept')


def test_written_files_are_flushed_to_the_disk_before_the_rename(tmp_path, monkeypatch):
    """fsync of the new file's contents, then the rename, then fsync of the folder (so the rename is stored)."""
    calls = []
    monkeypatch.setattr(os, 'fsync', lambda handle: calls.append(('fsync', os.readlink(f'/proc/self/fd/{handle}'))))
    replace = os.replace
    monkeypatch.setattr(os, 'replace', lambda a, b: (calls.append(('replace', str(b))), replace(a, b)))
    write_json(str(tmp_path / 'metrics.json'), {'epoch': 1})
    assert [what for what, _ in calls] == ['fsync', 'replace', 'fsync']
    assert calls[0][1].startswith(str(tmp_path / '.metrics.json.')) and calls[2][1] == str(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason='root writes into read-only folders')
def test_a_read_only_folder_is_refused_naming_it(tmp_path):
    folder = tmp_path / 'read-only'
    folder.mkdir(mode=0o555)
    with pytest.raises(GLEOutputError, match='is read-only for this user'):
        check_folder(str(folder))


@pytest.mark.parametrize('model', ['demo', 'lagnet'])
def test_a_model_refuses_an_output_folder_that_is_a_file_before_it_runs(model, tmp_path, capsys):
    blocker = tmp_path / 'results'
    blocker.write_text('kept')
    with pytest.raises(SystemExit) as exit:
        cli.main([model, '--out', str(blocker)])
    assert exit.value.code == 2 and f'argument --out: the output folder {blocker} is a file' in capsys.readouterr().err
