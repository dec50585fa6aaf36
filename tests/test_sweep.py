"""Sweeps on Dask (gle_brian.sweep): grids and their errors, a 4-task sweep on a local cluster of 2 processes,
a rerun that skips finished tasks, a killed worker, a scheduler given by its address (separate scheduler
and worker processes), failing tasks, and the command line."""
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pandas
import pytest
from brian2 import ms, prefs

from gle_brian import cli
from gle_brian import sweep as gle_sweep
from gle_brian.errors import GLEConfigError
from gle_brian.sweep import combinations, parse_grid, sweep, sweepable_models, task_function, task_name
from conftest import folder_held_by_another_process
from sweep_tasks import echo, failing, toy

GRID = {'seed': [1, 2], 'lr': [0.05, 0.02]}


def worker_pid(folder):
    """The process id of the worker that started the task in ``folder`` (the first line of its log)."""
    return int(open(os.path.join(folder, 'log.txt')).read().split('on pid ')[1].split()[0])


def test_grids_and_their_errors(tmp_path):
    assert parse_grid(['seed=1:3', 'lr=1e-3,5e-4', 'device=numpy', 'learn=true', 'step=0:10:5']) == {
        'seed': [1, 2, 3], 'lr': [0.001, 0.0005], 'device': ['numpy'], 'learn': [True], 'step': [0, 5, 10]}
    assert combinations(GRID)[1] == {'seed': 1, 'lr': 0.02} and len(combinations(GRID)) == 4
    assert task_name({'seed': 1, 'lr': 0.001}) == 'seed=1,lr=0.001'
    for items, message in ((['seed'], 'write NAME=VALUES'), (['seed='], 'seed has no values'),
                           (['seed=3:1'], 'seed has no values'), (['seed=1:x'], 'a range is FIRST:LAST'),
                           (['seed=1', 'seed=2'], 'seed is given twice')):
        with pytest.raises(GLEConfigError, match=message):
            parse_grid(items)
    out = tmp_path / 'sweep'
    for grid, message in (({'seed': []}, r"grid\['seed'\] has no values"), ({'seed': 3}, 'must be a list'),
                          ({'seed': [1], 'colour': ['red']}, r"\['colour'\] are not parameters of toy"),
                          ({'seed': [1], 'out': ['x']}, "'out' is set by the sweep"),
                          ({'seed': [1, 1]}, r"the tasks {'seed': 1} and {'seed': 1} are the same .*each value once"),
                          ({'seed': range(10 ** 4), 'lr': range(10 ** 4)}, 'grid has 1e\\+08 combinations')):
        with pytest.raises(GLEConfigError, match=message):
            sweep(toy, grid, str(out))
    with pytest.raises(GLEConfigError, match="model 'nonexistent' cannot be swept: give one of .*'lagline'"):
        sweep('nonexistent', {'seed': [1]}, str(out))
    assert not out.exists()                       # nothing started
    with pytest.raises(SystemExit) as exit_:
        cli.main(['sweep', 'lagline', '--grid', 'seed=5:1', '--out', str(out)])
    assert exit_.value.code == 2 and not out.exists()
    # the ready models' task functions travel to the task processes by name (pickle finds them in their module)
    for name in sweepable_models():
        function = task_function(name)
        assert pickle.loads(pickle.dumps(function)) is function, name
    with pytest.raises(GLEConfigError, match=r"\['colour'\] are not parameters of task"):
        sweep('mnist1d_lagmemory', {'seed': [1], 'colour': ['red']}, str(out))


@pytest.fixture(scope='module')
def local(tmp_path_factory):
    """The 4-task sweep on a local cluster of 2 worker processes."""
    out = tmp_path_factory.mktemp('local')
    return sweep(toy, GRID, str(out), workers=2, progress=False, metric='test_accuracy')


def test_local_cluster_runs_every_task_in_its_own_process(local):
    table, out = local.table, local.out
    assert not local.failed and sorted(table.task.unique()) == sorted(task_name(p) for p in combinations(GRID))
    assert list(table.columns[:4]) == ['task', 'seed', 'lr', 'epoch'] and len(table) == 4 * 4   # epochs 0..3
    pids = {worker_pid(os.path.join(out, 'tasks', name)) for name in table.task.unique()}
    assert len(pids) == 2                         # two workers shared the four tasks
    # each task equals the same function called here (train() is deterministic per seed)
    params = {'seed': 2, 'lr': 0.02}
    expected = pandas.DataFrame(toy(str(out) + '_direct', **params))
    got = table[table.task == task_name(params)].drop(columns=['task', 'seed', 'lr']).reset_index(drop=True)
    pandas.testing.assert_frame_equal(got[expected.columns], expected, check_exact=True)
    summary = local.summary
    assert list(summary.columns[:2]) == ['lr', 'epoch'] and (summary.n == 2).all()
    row = summary[(summary.lr == 0.05) & (summary.epoch == 3)].iloc[0]
    assert row.test_accuracy_mean == table[(table.lr == 0.05) & (table.epoch == 3)].test_accuracy.mean()
    for name in ('results.csv', 'summary.csv', 'test_accuracy.png', 'sweep.json'):
        assert os.path.getsize(os.path.join(out, name)) > 100, name
    pandas.testing.assert_frame_equal(pandas.read_csv(os.path.join(out, 'results.csv')), table, check_dtype=False)


def threads_task(out, seed):
    """A task that reports how many threads a large network of its process would get."""
    from gle_brian.openmp import PARALLEL_WORK, openmp_threads
    return {'threads': openmp_threads(PARALLEL_WORK)}


def test_tasks_side_by_side_share_the_cores(tmp_path):
    """Two workers on this machine: each task's large network gets cores // 2 threads (at least one), not all
    the cores (tasks side by side that each took them all ran 4.5x slower: README), and the sweep's process keeps
    its own setting."""
    share = max(1, len(os.sched_getaffinity(0)) // 2)
    result = sweep(threads_task, {'seed': [1, 2]}, str(tmp_path / 'share'), workers=2, progress=False)
    assert not result.failed and set(result.table.threads) == {share}
    assert prefs.gle_brian.cores == 0


def test_default_workers_are_the_cores_this_process_may_use(tmp_path, monkeypatch):
    """Without ``workers``, one worker per core the sweep's process may use (``prefs.gle_brian.cores``, or the
    cores it may run on: under taskset, not the machine's count)."""
    started, client = [], gle_sweep._client

    def counting_client(workers, scheduler):
        started.append(workers)
        return client(workers, scheduler)

    monkeypatch.setattr(gle_sweep, '_client', counting_client)
    prefs.gle_brian.cores = 1
    try:
        result = sweep(threads_task, {'seed': [1, 2]}, str(tmp_path / 'default'), progress=False)
    finally:
        prefs.gle_brian.cores = 0
    assert started == [1] and not result.failed and set(result.table.threads) == {1}


def test_rerun_skips_finished_tasks(local):
    logs = {name: os.path.getmtime(os.path.join(local.out, 'tasks', name, 'log.txt')) for name in local.table.task}
    again = sweep(toy, GRID, local.out, workers=2, progress=False)
    assert logs == {name: os.path.getmtime(os.path.join(local.out, 'tasks', name, 'log.txt')) for name in logs}
    pandas.testing.assert_frame_equal(again.table, local.table)
    with pytest.raises(GLEConfigError, match=r'holds a sweep of sweep_tasks.toy, not of sweep_tasks.failing: .*give '
                                             'another output folder'):
        sweep(failing, {'seed': [1]}, local.out)


@pytest.fixture
def scheduler(tmp_path):
    """A Dask scheduler and 2 worker processes (with nannies), each its own process as on a cluster."""
    file = tmp_path / 'scheduler.json'
    common = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    processes = [subprocess.Popen([sys.executable, '-m', 'distributed.cli.dask_scheduler', '--scheduler-file',
                                   str(file), '--port', '0', '--no-dashboard'], **common)]
    try:
        deadline = time.time() + 60
        while not file.exists() and time.time() < deadline:
            time.sleep(0.2)
        processes.append(subprocess.Popen([sys.executable, '-m', 'distributed.cli.dask_worker', '--scheduler-file',
                                           str(file), '--nworkers', '2', '--nthreads', '1', '--no-dashboard'],
                                          **common))
        yield json.load(open(file))['address']
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_killed_worker_on_a_scheduler_given_by_address(local, scheduler, tmp_path):
    """A worker killed in the middle of a task: the task runs again elsewhere, resumes from its checkpoint,
    and the sweep ends with the numbers of the uninterrupted one."""
    out = tmp_path / 'killed'
    results = []
    grid = {'seed': [1, 2], 'lr': [0.05], 'pause': [0.5]}
    thread = threading.Thread(target=lambda: results.append(
        sweep(toy, grid, str(out), scheduler=scheduler, progress=False)))
    thread.start()
    killed = None
    deadline = time.time() + 120
    while killed is None and time.time() < deadline:
        for folder in sorted(out.glob('tasks/*')):
            if (folder / 'checkpoint.npz').exists() and not (folder / 'rows.json').exists():
                os.kill(worker_pid(folder), signal.SIGKILL)
                killed = folder
                break
        time.sleep(0.1)
    thread.join(timeout=300)
    assert killed is not None and results, 'no task was caught between two epochs'
    result = results[0]
    assert not result.failed
    log = (killed / 'log.txt').read_text()
    assert log.count('--- started') == 2 and 'resuming after epoch' in log      # started again, from its checkpoint
    expected = local.table[local.table.lr == 0.05].drop(columns='task').reset_index(drop=True)
    got = result.table.drop(columns=['task', 'pause'])
    pandas.testing.assert_frame_equal(got, expected)

    # a task that fails is reported with its error; the others finish
    failed = sweep(failing, {'seed': [1, 2]}, str(tmp_path / 'failing'), scheduler=scheduler, progress=False)
    assert list(failed.failed) == ['seed=2'] and 'ValueError: seed 2 does not work' in failed.failed['seed=2']
    assert list(failed.table.value) == [10]

    # the command line, with a ready model (LagLine, 25 ms of training on numpy)
    code = cli.main(['sweep', 'lagline', '--grid', 'seed=3', 'train=25', 'init=0', 'device=numpy',
                     '--scheduler', scheduler, '--out', str(tmp_path / 'lagline')])
    table = pandas.read_csv(tmp_path / 'lagline' / 'results.csv')
    assert code == 0 and list(table.seed) == [3] and table.variant[0] == 'gle' and table.train_ms[0] == 25
    assert np.isfinite(table.loss_end).all() and table.w_0[0] != table.w_start_0[0]     # it learned
    curves = pandas.read_csv(tmp_path / 'lagline' / 'tasks' / table.task[0] / 'curves.csv')   # 4 ms means
    assert list(curves.columns) == ['t_ms', 'loss', 'w0', 'w1', 'tau_m0_ms', 'tau_m1_ms']
    assert list(curves.t_ms) == [2.0, 6.0, 10.0, 14.0, 18.0, 22.0] and curves.w0.iloc[-1] != curves.w0.iloc[0]


def test_unreachable_scheduler_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(gle_sweep, 'CONNECT_TIMEOUT', '1s')
    with pytest.raises(GLEConfigError, match="no Dask scheduler answered at 'tcp://127.0.0.1:1'"):
        sweep(toy, {'seed': [1]}, str(tmp_path), scheduler='tcp://127.0.0.1:1')


def test_a_sweep_folder_in_use_by_another_sweep_is_refused(tmp_path):
    """Two sweeps on one output folder ran the same tasks at the same time: the folder is locked while a sweep works
    in it, and a second sweep gets an error naming the folder and the holder."""
    out = tmp_path / 'sweep'
    with folder_held_by_another_process(out, 4343):
        with pytest.raises(GLEConfigError, match=rf'sweep folder {out} is in use by another process \(pid 4343\)'):
            sweep(toy, {'seed': [1]}, str(out))
    assert not (out / 'tasks').exists()                     # nothing started



def test_values_that_read_alike_are_different_tasks_and_quantities_keep_their_units(tmp_path):
    """1 and '1', True and 'True', 'x/y' and 'x_y', None and 'None' each ran as one task (the other taken as done):
    every value is a task of its own, in a folder of its own, with its value and type; a Quantity reaches the task
    with its unit and is stored with it."""
    alike = [1, '1', True, 'True', 'x/y', 'x_y', None, 'None', 5 * ms, 5.0, 'a' * 300, 'a' * 300 + 'b']
    names = [task_name({'value': value}) for value in alike]
    assert len(set(names)) == len(alike) and max(map(len, names)) < 140
    assert names[:2] == ['value=1', 'value=1~' + names[1][-8:]]
    values = [1, '1', 'x/y', 5 * ms]                                # these run (a process each)
    names = [task_name({'value': value}) for value in values]
    result = sweep(echo, {'value': values}, str(tmp_path / 'sweep'), workers=2, progress=False)
    assert not result.failed and len(result.table) == len(values)
    got = {row.task: (row.got, row.type) for row in result.table.itertuples()}
    assert got == {name: (repr(value), type(value).__name__) for name, value in zip(names, values)}
    with open(tmp_path / 'sweep' / 'tasks' / names[3] / 'params.json') as f:
        assert json.load(f) == {'value': {'value': 5.0, 'unit': 'ms'}}
    assert result.table.set_index('task').value[names[3]] == '5 ms'
    with open(tmp_path / 'sweep' / 'sweep.json') as f:
        assert json.load(f)['grid']['value'][3] == {'value': 5.0, 'unit': 'ms'}


def test_a_task_folder_still_held_by_a_process_is_waited_for(tmp_path):
    """A task whose folder another process still works in (the process of a lost worker) starts only when that
    process has let go (a worker's part of a task, called here as a worker calls it)."""
    import cloudpickle
    folder = tmp_path / 'tasks' / task_name({'value': 1})
    folder.parent.mkdir(parents=True)
    rows = []
    payload = cloudpickle.dumps((echo, {'value': 1}))
    path = [entry for entry in sys.path if entry]
    with folder_held_by_another_process(folder, 777):
        thread = threading.Thread(target=lambda: rows.append(
            gle_sweep._run_task(payload, {'value': 1}, str(folder), path)))
        thread.start()
        time.sleep(2)
        assert thread.is_alive() and not (folder / 'log.txt').exists()
    thread.join(120)
    assert not thread.is_alive() and rows == [[{'got': '1', 'type': 'int'}]]
