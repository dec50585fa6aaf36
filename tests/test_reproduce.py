"""The reproduced-results table (models/reproduce.py): README.rst's table is the committed results', and a sweep
that has not finished is labelled partial with the right numbers."""
import json
import os

import numpy as np
import pandas
import pytest

from gle_brian.sweep import collect, write_progress
from models import reproduce


def test_readme_table_is_made_from_the_committed_results():
    with open(reproduce.README) as f:
        shown = reproduce.readme_table(f.read())
    assert shown is not None, 'README.rst lost the markers of the reproduced-results table'
    assert shown == reproduce.table(), 'README.rst is out of date: run python -m models.reproduce'


def test_published_numbers_are_read_from_the_reference_curves():
    values = reproduce.published('mnist1d_e2e_test_accuracy.csv', 150)
    assert (values['mean'], values['std'], values['min'], values['max'], values['seeds']) == (91.72, 0.80, 90.1,
                                                                                              92.7, 10)
    assert reproduce.published_text('mnist1d_lagmemory_test_accuracy.csv', 150) == \
        '90.89 +- 0.63 % (89.9-91.8), n = 10'


def _task(folder, seed, accuracies, finished):
    """A task folder as a sweep leaves it: params, and rows (finished) or progress (running)."""
    task = os.path.join(folder, 'tasks', f'seed={seed},epochs=3')
    os.makedirs(task)
    with open(os.path.join(task, 'params.json'), 'w') as f:
        json.dump({'seed': seed, 'epochs': 3}, f)
    rows = [{'epoch': epoch, 'test_accuracy': value} for epoch, value in enumerate(accuracies)]
    if finished:
        with open(os.path.join(task, 'rows.json'), 'w') as f:
            json.dump(rows, f)
    else:
        write_progress(task, rows)


@pytest.fixture
def partial_sweep(tmp_path, monkeypatch):
    """Seeds 1 and 2 finished at epoch 3 (90 % and 93 %), seed 3 stopped at epoch 1, seed 4 not started."""
    monkeypatch.setattr(reproduce, 'RESULTS', str(tmp_path))
    experiment = reproduce.Experiment('test', 'toy', (1, 2, 3, 4), 3, 'mnist1d_e2e_test_accuracy.csv')
    _task(experiment.folder, 1, [0.1, 0.5, 0.8, 0.90], finished=True)
    _task(experiment.folder, 2, [0.1, 0.6, 0.9, 0.93], finished=True)
    _task(experiment.folder, 3, [0.1, 0.4], finished=False)
    return experiment


def test_a_partial_sweep_is_labelled_with_its_seeds_and_epochs(partial_sweep):
    state = reproduce.progress(partial_sweep)
    assert state['reached'] == {1: 3, 2: 3, 3: 1}
    assert state['finished'] == [1, 2]
    assert reproduce.status_text(partial_sweep, state) == \
        'partial: 2 of 4 seeds at epoch 3; stopped or running: seed 3 at epoch 1; 1 not started'
    assert reproduce.short_status(partial_sweep, state) == 'partial: 2 of 4 seeds at epoch 3, 1 more at epoch 1'
    # population std of 90 and 93 is 1.5; the unfinished seed does not count
    assert reproduce.result_text(partial_sweep, state) == '91.50 +- 1.50 % (90.0-93.0), n = 2'
    # the published range at epoch 3 holds 91.5 or not, as the curve says
    published = reproduce.published('mnist1d_e2e_test_accuracy.csv', 3)
    inside = published['min'] <= 91.5 <= published['max']
    assert reproduce.inside_text(partial_sweep, state) == ('yes' if inside else 'no')
    table = collect(partial_sweep.folder, partial=True)
    assert table.groupby('task')['finished'].first().to_dict() == {
        'seed=1,epochs=3': True, 'seed=2,epochs=3': True, 'seed=3,epochs=3': False}
    assert len(collect(partial_sweep.folder)) == 8          # without partial: the finished tasks' rows only
    assert np.isclose(table[table['epoch'] == 1]['test_accuracy'].mean(), 0.5)


def test_a_finished_sweep_is_complete(partial_sweep):
    state = {'reached': {seed: 3 for seed in partial_sweep.seeds}, 'finished': list(partial_sweep.seeds),
             'finals': {1: 90.0, 2: 91.0, 3: 92.0, 4: 93.0}}
    assert reproduce.status_text(partial_sweep, state) == 'complete: 4 seeds, epoch 3'
    assert reproduce.result_text(partial_sweep, state).startswith('91.50 +- 1.12 %')


def test_a_sweep_without_finished_seeds_shows_the_last_common_epoch(tmp_path, monkeypatch):
    monkeypatch.setattr(reproduce, 'RESULTS', str(tmp_path))
    experiment = reproduce.Experiment('test', 'toy', (1, 2, 3), 3, 'mnist1d_e2e_test_accuracy.csv')
    _task(experiment.folder, 1, [0.1, 0.40], finished=False)
    _task(experiment.folder, 2, [0.1, 0.50, 0.7], finished=False)
    state = reproduce.progress(experiment)
    assert state['finished'] == [] and state['common'][0] == 1
    published = reproduce.published('mnist1d_e2e_test_accuracy.csv', 1)
    assert reproduce.result_text(experiment, state) == (
        f"epoch 3 not reached; at epoch 1: 45.00 +- 5.00 %, n = 2 (published at epoch 1: {published['mean']:.2f} "
        f"+- {published['std']:.2f} %)")
    assert reproduce.inside_text(experiment, state) == '--'
    assert reproduce.status_text(experiment, state) == \
        'partial: 0 of 3 seeds at epoch 3; stopped or running: seed 1 at epoch 1, 2 at epoch 2; 1 not started'


def test_unfinished_checkpoints_are_those_of_seeds_without_rows(partial_sweep, tmp_path, monkeypatch):
    """The files to commit for a clone to continue the sweep: the checkpoint of the stopped seed, not a finished
    seed's."""
    monkeypatch.setattr(reproduce, 'EXPERIMENTS', {'toy': partial_sweep})
    monkeypatch.setattr(reproduce, 'ROOT', str(tmp_path))
    for seed in (1, 3):
        open(os.path.join(partial_sweep.folder, 'tasks', f'seed={seed},epochs=3', 'checkpoint.npz'), 'wb').close()
    assert reproduce.unfinished_checkpoints() == [os.path.join('reproduce_toy', 'tasks', 'seed=3,epochs=3',
                                                               'checkpoint.npz')]


def test_lagline_bands_are_over_seeds(tmp_path):
    """LagLine's band figure: per variant and time the mean and population std over the finished seeds, of log10
    of the loss and of the parameters; a task without rows (unfinished) is left out."""
    for seed, loss, w0 in ((1, 1e-2, 1.0), (2, 1e-4, 3.0), (3, 1.0, 9.0)):
        task = tmp_path / 'tasks' / f'seed={seed},variant=gle'
        task.mkdir(parents=True)
        frame = {'t_ms': [52.0, 56.0], 'loss': [loss, loss], 'w0': [w0, w0], 'w1': [2.0, 2.0],
                 'tau_m0_ms': [1.0, 1.0], 'tau_m1_ms': [2.0, 2.0]}
        pandas.DataFrame(frame).to_csv(task / 'curves.csv', index=False)
        (task / 'params.json').write_text(json.dumps({'seed': seed, 'variant': 'gle'}))
        if seed < 3:
            (task / 'rows.json').write_text(json.dumps([{'seed': seed, 'variant': 'gle', 'init_ms': 50.0}]))
    mean, std, seeds = reproduce.lagline_bands(reproduce.lagline_curves(str(tmp_path)))
    assert seeds == {'gle': 2}
    np.testing.assert_allclose(mean.loc[('gle', 56.0), ['log10_loss', 'w0', 'w1']], [-3.0, 2.0, 2.0])
    np.testing.assert_allclose(std.loc[('gle', 56.0), ['log10_loss', 'w0', 'w1']], [1.0, 1.0, 0.0])
    assert reproduce.lagline_figure(str(tmp_path), str(tmp_path / 'curves.png')) == str(tmp_path / 'curves.png')
    assert (tmp_path / 'curves.png').stat().st_size > 0
