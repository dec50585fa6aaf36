"""Sweeps over seeds and parameters on Dask: every task a model run in its own process and folder.

A sweep runs a *task function* once for every combination of a grid of keyword values. A task function is
called as ``task(out=FOLDER, **params)``: it runs a model with ``params``, writes what it likes into
``FOLDER``, resumes from what it left there when it was stopped before (its checkpoint), and returns its
results as rows: a dict, or a list of dicts (e.g. one per epoch). The ready models in ``models/`` that can be
swept by name have one, called ``task`` (:func:`sweepable_models`); any other function works too.

Dask's distributed scheduler places the tasks: by default on a ``LocalCluster`` of one worker process per core
of this machine, or on the cluster whose scheduler address is given (``tcp://host:8786``; a cluster started
with ``dask scheduler`` and ``dask worker tcp://host:8786``, or by dask-jobqueue on SLURM/PBS). The workers of
a cluster must see the output folder (a shared file system) and have gle-brian installed. Each task runs in a
new Python process started by its worker (Brian2 holds one standalone project per process), in
``OUT/tasks/<name>`` (``<name>`` is ``seed=1,lr=0.001``):

- ``task.pkl`` (the function and its parameters, pickled), ``params.json``, ``log.txt`` (the task's output);
- ``rows.json``: its results, written atomically once it has finished;
- ``progress.json``: the rows of a long task so far, where the task writes them (:func:`write_progress`, e.g.
  after every epoch), so that a sweep still running can be shown with ``collect(out, partial=True)``.

A task that has its ``rows.json`` is skipped when the sweep runs again, so a stopped sweep continues where
it was (a grid may grow between runs: the tables hold every finished task of the folder; a folder belongs to
one model); an unfinished task starts again and resumes from its own checkpoint. A task that fails is reported
with its error and the others go on. A worker that dies (killed, out of memory) takes its task's process
(and the compiled program it runs) with it, and the scheduler gives the task to another worker.

Results: ``OUT/results.csv`` (and ``results.parquet`` where pyarrow is installed) holds every row of every
finished task with the task's parameters as columns; ``OUT/summary.csv`` the mean and std over seeds; with a
per-epoch metric, ``OUT/<metric>.png`` shows it as mean +- std over seeds (:func:`gle_brian.plotting.plot_band`),
next to a reference band when the model has one.

Example::

    >>> from gle_brian.sweep import sweep
    >>> result = sweep('mnist1d_e2e', {'seed': range(1, 11), 'epochs': [150]}, out='results/sweep',
    ...                workers=2)                                                      # doctest: +SKIP
    >>> result.table.groupby('epoch').test_accuracy.mean()                             # doctest: +SKIP

The same from the command line (``gle-brian sweep --help``)::

    gle-brian sweep mnist1d_e2e --grid seed=1:10 epochs=150 --workers 2 --out results/sweep
"""
import glob
import importlib
import importlib.util
import inspect
import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

from brian2 import prefs

from .errors import GLEConfigError
from .grid import combinations, grid_lists, jsonable, parse_grid, table_value, task_name
from .openmp import cores
from .results import FolderInUse, atomic_path, lock_folder, save_figure, write_json

__all__ = ['sweep', 'parse_grid', 'combinations', 'task_name', 'task_function', 'sweepable_models', 'collect',
           'summarise', 'report', 'write_progress', 'SweepResult', 'SweepTaskError']

ROWS = 'rows.json'
PROGRESS = 'progress.json'
CORES = 'GLE_BRIAN_TASK_CORES'  # a task process's share of the cores, from the sweep (prefs.gle_brian.cores)
CONNECT_TIMEOUT = '20s'          # waiting for the scheduler given by its address


class SweepTaskError(RuntimeError):
    """A task's process ended with an error (the message ends with the tail of its log)."""


@dataclass
class SweepResult:
    """What :func:`sweep` returns."""
    table: object                    #: pandas.DataFrame: every row of every finished task, parameters as columns
    summary: object                  #: pandas.DataFrame: mean and std over seeds
    failed: dict = field(default_factory=dict)   #: task name -> error text
    out: str = ''                    #: the sweep's folder


def sweepable_models():
    """Names of the ready models that have a ``task`` function."""
    from .cli import available_models
    return [name for name in available_models() if hasattr(_model_module(name), 'task')]


def _model_module(name):
    from .cli import models_folder
    root = os.path.dirname(models_folder())
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module(f'models.{name}')


def task_function(model):
    """The task function of ``model``: a callable itself, or the name of a ready model (``models/<name>.py``)."""
    if callable(model):
        return model
    from .cli import available_models
    if not isinstance(model, str) or model not in available_models() or not hasattr(_model_module(model), 'task'):
        raise GLEConfigError(f'model {model!r} cannot be swept: give one of {sweepable_models()} or a function '
                             'task(out, **params) that returns rows.')
    return _model_module(model).task


def _check_parameters(function, grid):
    """Every grid name is a keyword of ``function`` (unless it takes ``**kwargs``); ``out`` is set by the sweep."""
    parameters = inspect.signature(function).parameters
    if 'out' not in parameters and not any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        raise GLEConfigError(f'the task function {function.__name__} has no parameter out: a task function is '
                             'task(out, **params), out being the folder of the task.')
    if 'out' in grid:
        raise GLEConfigError("grid parameter 'out' is set by the sweep (each task's folder); remove it.")
    if any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        return
    known = [name for name, p in parameters.items() if name != 'out' and p.kind != p.VAR_POSITIONAL]
    unknown = [name for name in grid if name not in known]
    if unknown:
        raise GLEConfigError(f'grid parameter(s) {unknown} are not parameters of {function.__name__}; it takes '
                             f'{known}.')


def sweep(model, grid, out, workers=None, scheduler=None, progress=True, metric=None):
    """Run ``model`` for every combination of ``grid`` (skipping finished tasks); returns a :class:`SweepResult`.

    Parameters
    ----------
    model : str or callable
        A ready model's name (see :func:`sweepable_models`) or a task function ``task(out, **params)``.
    grid : dict
        Parameter name -> values (a list or range), e.g. ``{'seed': range(1, 11), 'lr': [1e-3, 5e-4]}``.
    out : str
        Folder of the sweep: ``tasks/<name>/`` per task, the tables and the figure.
    workers : int or None
        Worker processes of the local cluster (default: one per core this process may use,
        :func:`gle_brian.openmp.cores`); each task's networks use at most cores // workers threads
        (``prefs.gle_brian.cores``). Ignored with ``scheduler``.
    scheduler : str or None
        Address of a running Dask scheduler (``tcp://host:8786``) to run the tasks on its workers.
    progress : bool
        A progress bar over the tasks.
    metric : str or None
        The per-epoch metric of the band figure (default: the model's ``SWEEP_METRIC``, if any).
    """
    function = task_function(model)
    tasks = combinations(grid)
    _check_parameters(function, grid)
    folders = {}
    for params in tasks:
        folder_name = task_name(params)
        if folder_name in folders:     # a value given twice: one folder, so one task would be taken as done
            raise GLEConfigError(f'grid: the tasks {folders[folder_name][0]} and {params} are the same (folder name '
                                 f'{folder_name!r}); give each value once.')
        folders[folder_name] = (params, os.path.join(os.path.abspath(out), 'tasks', folder_name))
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise GLEConfigError(f'workers={workers!r}: give a number of worker processes >= 1 (or None: one per core).')
    module = _model_module(model) if isinstance(model, str) else None
    metric = metric or getattr(module, 'SWEEP_METRIC', None)
    try:                               # one sweep at a time in a folder: a second would run the same tasks again
        lock = lock_folder(out, 'sweep folder', 'give this sweep another output folder, or wait until that sweep has '
                           'ended (it resumes where it stopped)')
    except (OSError, FolderInUse) as error:
        raise GLEConfigError(str(error)) from None
    try:
        os.makedirs(os.path.join(out, 'tasks'), exist_ok=True)
        name = model if isinstance(model, str) else _qualified(function)
        _check_folder(out, name)
        stored = {key: [jsonable(value) for value in values] for key, values in grid_lists(grid).items()}
        write_json(os.path.join(out, 'sweep.json'), {'model': name, 'grid': stored})
        pending = {name: task for name, task in folders.items() if not os.path.exists(os.path.join(task[1], ROWS))}
        failed = {}
        if pending:
            failed = _run(function, pending, len(folders), workers, scheduler, progress)
        table, summary = report(out, metric=metric, module=module, title=name)
    finally:
        lock.close()
    return SweepResult(table, summary, failed, out)


def report(out, partial=False, metric=None, module=None, title=None):
    """Write a sweep folder's tables (``results.csv``, ``summary.csv``) and its band figure ``<metric>.png``
    from the tasks' rows; returns ``(table, summary)``.

    With ``partial``, tasks still running (or stopped) are included with the rows they have written so far
    (:func:`write_progress`), and the table has a column ``finished``. ``module`` is the swept model's module
    (its ``SWEEP_METRIC`` and reference band), found from ``sweep.json`` when not given.
    """
    if module is None:
        name = _stored_model(out)
        module = _model_module(name) if name in _available_models() else None
    metric = metric or getattr(module, 'SWEEP_METRIC', None)
    table = collect(out, partial=partial)
    summary = summarise(table)
    if len(table):
        _write_tables(out, table, summary)
        if metric is not None and 'epoch' in table and metric in table:
            from .plotting import plot_band
            figure = plot_band(table, metric, reference=getattr(module, 'REFERENCE_CURVE', None),
                               reference_scale=getattr(module, 'REFERENCE_SCALE', 1.0), title=title)
            save_figure(figure, os.path.join(out, f'{metric}.png'))
    return table, summary


def write_progress(folder, rows):
    """Write the rows a task has so far to ``folder/progress.json`` (atomically); call it from a task function,
    e.g. after every epoch, so that ``collect(out, partial=True)`` shows a sweep that has not finished."""
    write_json(os.path.join(folder, PROGRESS), [_plain(row) for row in rows])


def _available_models():
    from .cli import available_models
    return available_models()


def _stored_model(out):
    path = os.path.join(out, 'sweep.json')
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f).get('model')


def _check_folder(out, name):
    """Refuse a folder that holds a sweep of another model (its finished tasks would be taken as this one's)."""
    before = _stored_model(out)
    if before is not None and before != name:
        raise GLEConfigError(f'{out} holds a sweep of {before}, not of {name}: its finished tasks would be taken '
                             'as results of this model; give another output folder.')


def _qualified(function):
    return f'{getattr(function, "__module__", "?")}.{getattr(function, "__qualname__", function)}'


def _run(function, pending, total, workers, scheduler, progress):
    """Submit the pending tasks, wait for them with a progress bar; returns the failed ones' errors."""
    import cloudpickle
    from distributed import as_completed
    from tqdm.auto import tqdm

    path = [entry for entry in sys.path if entry]
    # tasks side by side on this machine share its cores (a task of a large network would take them all)
    available = cores()
    workers = workers or available
    threads = None if scheduler is not None else max(1, available // workers)
    failed = {}
    with _client(workers, scheduler) as client:
        futures = {}
        for name, (params, folder) in pending.items():
            payload = cloudpickle.dumps((function, params))
            future = client.submit(_run_task, payload, params, folder, path, threads, pure=False,
                                   key=f'gle-task-{name}-{uuid.uuid4().hex[:8]}')
            futures[future] = name
        bar = tqdm(total=total, initial=total - len(pending), desc='tasks', unit='task', disable=not progress)
        for future in as_completed(futures):
            name = futures[future]
            try:
                future.result()
            except Exception as error:          # reported, and the other tasks go on
                failed[name] = f'{type(error).__name__}: {error}'
                tqdm.write(f'task {name} failed: {failed[name]}')
            bar.update()
        bar.close()
    return failed


@contextmanager
def _client(workers, scheduler):
    from distributed import Client, LocalCluster
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except OSError as error:
            raise GLEConfigError(f'no Dask scheduler answered at {scheduler!r} ({error}); start one (dask scheduler) '
                                 'or leave out the address to run on this machine.') from None
        with client:
            yield client
        return
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=':0', silence_logs=logging.ERROR)
    with cluster, Client(cluster) as client:
        yield client


def _run_task(payload, params, folder, path, threads=None):
    """On a worker: run one task in a new process (unless it finished before) and return its rows; ``threads``:
    the task's share of the cores (``prefs.gle_brian.cores`` in its process)."""
    rows = os.path.join(folder, ROWS)
    # a process still running this task (its worker was lost and the task given to this one) is waited for
    with lock_folder(folder, 'sweep task folder', 'wait until it has ended', wait=True) as lock:
        if not os.path.exists(rows):
            _start_task(payload, params, folder, path, lock, threads)
    with open(rows) as f:
        return json.load(f)


def _start_task(payload, params, folder, path, lock, threads):
    """Run the task's own process in ``folder`` (its rows there when it succeeds); it shares ``lock`` (the task
    folder's), so the folder stays locked while it runs, also after its worker was lost."""
    with atomic_path(os.path.join(folder, 'task.pkl')) as temporary, open(temporary, 'wb') as f:
        f.write(payload)
    write_json(os.path.join(folder, 'params.json'), {key: jsonable(value) for key, value in params.items()})
    log = os.path.join(folder, 'log.txt')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), MPLBACKEND='Agg')
    if threads is not None:
        env[CORES] = str(threads)
    with open(log, 'a') as output:
        output.write(f'--- started {time.strftime("%Y-%m-%d %H:%M:%S")} on pid {os.getpid()}\n')
        output.flush()
        process = subprocess.Popen([sys.executable, '-m', 'gle_brian.sweep', folder], cwd=folder, env=env,
                                   stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, pass_fds=(lock.fileno(),))
        try:
            code = process.wait()
        finally:
            if process.poll() is None:          # cancelled while it ran: end it and what it started
                os.killpg(process.pid, signal.SIGKILL)
    if code:
        with open(log) as f:
            tail = f.read()[-2000:]
        raise SweepTaskError(f'the task in {folder} ended with exit status {code}; its log ({log}) ends with:\n'
                             f'{tail}')


def _task_process(folder):
    """The task's own process: run the function in ``folder`` and write its rows."""
    parent = os.getppid()

    def end_with_parent():          # the worker died: end this process and what it started (make, a program)
        while os.getppid() == parent:
            time.sleep(0.5)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=end_with_parent, daemon=True).start()
    if CORES in os.environ:
        prefs.gle_brian.cores = int(os.environ[CORES])
    with open(os.path.join(folder, 'task.pkl'), 'rb') as f:
        function, params = pickle.load(f)
    result = function(out=folder, **params)
    rows = [result] if isinstance(result, dict) else result
    if not isinstance(rows, (list, tuple)) or not all(isinstance(row, dict) for row in rows):
        raise GLEConfigError(f'the task function {function.__name__} returned {type(result).__name__}; a task '
                             'returns a dict or a list of dicts (rows of results).')
    write_json(os.path.join(folder, ROWS), [_plain(row) for row in rows])


def _plain(row):
    """A row with JSON values: numpy scalars as numbers, lists and arrays as lists."""
    plain = {}
    for key, value in row.items():
        if hasattr(value, 'tolist'):
            value = value.tolist()
        plain[str(key)] = value
    return plain


def collect(out, partial=False):
    """All rows of the finished tasks in ``out/tasks`` as one table (pandas.DataFrame), parameters first.

    A list value becomes one column per element (``w`` -> ``w_0``, ``w_1``); a task's parameters come first
    and win over a result of the same name. With ``partial``, unfinished tasks add the rows of their
    ``progress.json`` (:func:`write_progress`) and a column ``finished`` tells them apart.
    """
    import pandas
    records, parameters = [], []
    for folder in sorted(glob.glob(os.path.join(glob.escape(out), 'tasks', '*', ''))):
        finished = os.path.exists(os.path.join(folder, ROWS))
        rows = os.path.join(folder, ROWS if finished else PROGRESS)
        if not os.path.exists(rows) or not (finished or partial):
            continue
        with open(os.path.join(folder, 'params.json')) as f:
            params = {key: table_value(value) for key, value in json.load(f).items()}
        parameters += [name for name in params if name not in parameters]
        with open(rows) as f:
            for row in json.load(f):
                record = {'task': os.path.basename(os.path.dirname(folder)), **params}
                if partial:
                    record['finished'] = finished
                for key, value in row.items():
                    if key in params:
                        continue
                    if isinstance(value, list) and all(not isinstance(v, (list, dict)) for v in value):
                        record.update({f'{key}_{i}': v for i, v in enumerate(value)})
                    elif not isinstance(value, (list, dict)):
                        record[key] = value
                records.append(record)
    table = pandas.DataFrame.from_records(records)
    keys = parameters + (['epoch'] if 'epoch' in table else [])
    try:
        table = table.sort_values(keys, kind='stable', ignore_index=True) if len(table) else table
    except TypeError:          # values of different types in a column: keep the order of the folders
        pass
    table.attrs['parameters'] = parameters
    return table


def summarise(table, over='seed'):
    """Mean and std (and count) of every numeric result over ``over`` (seeds), for each combination of the other
    parameters (and each epoch): columns ``<result>_mean``, ``<result>_std`` (sample std, ``ddof=1``), ``n``."""
    import pandas
    parameters = table.attrs.get('parameters', [])
    keys = [name for name in parameters if name != over] + (['epoch'] if 'epoch' in table else [])
    results = [name for name in table.columns if name not in (*parameters, 'task', 'epoch')
               and pandas.api.types.is_numeric_dtype(table[name]) and not pandas.api.types.is_bool_dtype(table[name])]
    if not len(table) or not results:
        return pandas.DataFrame()
    grouped = table.groupby(keys, sort=True, dropna=False) if keys else table.assign(_all=0).groupby('_all')
    summary = grouped[results].agg(['mean', 'std'])
    summary.columns = [f'{name}_{statistic}' for name, statistic in summary.columns]
    summary['n'] = grouped.size()
    return summary.reset_index(drop=not keys)


def _write_tables(out, table, summary):
    for name, frame in (('results', table), ('summary', summary)):
        with atomic_path(os.path.join(out, f'{name}.csv')) as temporary:
            frame.to_csv(temporary, index=False)
    if importlib.util.find_spec('pyarrow') is not None:
        with atomic_path(os.path.join(out, 'results.parquet')) as temporary:
            table.to_parquet(temporary, index=False)


def _main(argv=None):
    """``python -m gle_brian.sweep FOLDER``: the process of one task (started by its worker)."""
    argv = sys.argv[1:] if argv is None else argv
    _task_process(argv[0])


if __name__ == '__main__':
    _main()
