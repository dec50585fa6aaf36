"""The ``gle-brian`` command: run one of the paper's models from the ``models/`` folder of a checkout.

``gle-brian MODEL [options]`` imports ``models.MODEL`` and hands it the options; each model writes its
metrics (JSON) and figures to ``--out`` and prints a one-line summary. The models are not installed with
the package: they are looked up in the checkout next to the installed ``gle_brian`` package (an editable
install, ``pip install -e .``) or in the current directory.

``gle-brian sweep MODEL --grid NAME=VALUES ...`` runs a model once per combination of the grid's values, on
Dask workers (:mod:`gle_brian.sweep`).

Example::

    gle-brian lagline --variant gle --device cpp_standalone --out results/lagline
    gle-brian lagline --help
    gle-brian sweep lagline --grid seed=1:10 variant=gle,bp --workers 2 --out results/lagline_seeds

The models' options check their ranges with the argparse types of this module (:func:`ranged`,
``positive_int``, ``non_negative_int``, ``positive_float``): a value out of range ends the command with
argparse's usage message naming the option (exit status 2).
"""
import argparse
import importlib
import math
import os
import sys

from .errors import GLEConfigError, GLEOutputError
from .results import check_folder

__all__ = ['main', 'models_folder', 'available_models', 'ranged', 'positive_int', 'non_negative_int',
           'positive_float', 'output_folder']


def ranged(convert, minimum, strict=False):
    """An argparse ``type``: the text converted with ``convert`` (``int`` or ``float``), at least ``minimum``.

    With ``strict`` the value must be above ``minimum``. NaN and inf are refused. Example::

        >>> parser.add_argument('--train', type=ranged(float, 25.0), help='ms')     # doctest: +SKIP
        >>> ranged(int, 1)('0')
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: 0 is not an integer >= 1
    """
    description = f"{'an integer' if convert is int else 'a number'} {'>' if strict else '>='} {minimum:g}"

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f'{text} is not {description}')
        return value

    parse.__name__ = description
    return parse


positive_int = ranged(int, 1)
non_negative_int = ranged(int, 0)
positive_float = ranged(float, 0, strict=True)


def output_folder(text):
    """An argparse ``type``: a folder for the results (made by the model when it writes); one that is a file, cannot
    be made or is read-only is refused before the model runs (:func:`gle_brian.results.check_folder`)."""
    try:
        return check_folder(text, make=False)
    except GLEOutputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def models_folder():
    """The ``models/`` folder of the checkout (next to the package, else in the current directory)."""
    for root in (os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.getcwd()):
        folder = os.path.join(root, 'models')
        if os.path.isfile(os.path.join(folder, '__init__.py')):
            return folder
    raise GLEConfigError('the models/ folder was not found: gle-brian runs the models of a source checkout; '
                         'install it with  pip install -e .  from the checkout, or run gle-brian inside it.')


def available_models():
    """Names of the runnable models (``models/<name>.py`` with a ``main`` function)."""
    return sorted(name[:-3] for name in os.listdir(models_folder())
                  if name.endswith('.py') and not name.startswith('_'))


def sweep_main(argv):
    """``gle-brian sweep``: the command line of :func:`gle_brian.sweep.sweep`; exit status 1 if a task failed."""
    from .sweep import parse_grid, sweep, sweepable_models
    parser = argparse.ArgumentParser(prog='gle-brian sweep', description='Run a model for every combination of '
                                     'a grid of parameters, each in its own process, on Dask workers.')
    parser.add_argument('model', choices=sweepable_models(), help='the model to run')
    parser.add_argument('--grid', nargs='+', default=[], metavar='NAME=VALUES',
                        help='e.g. seed=1:10 (integers 1 to 10) lr=1e-3,5e-4 device=cpp_standalone')
    parser.add_argument('--workers', type=positive_int, default=None,
                        help='worker processes on this machine (default: one per core)')
    parser.add_argument('--scheduler', default=None, metavar='ADDRESS',
                        help='a running Dask scheduler (tcp://host:8786) whose workers run the tasks; they must '
                             'see --out')
    parser.add_argument('--metric', default=None, help='per-epoch metric of the band figure (default: the model\'s)')
    parser.add_argument('--out', required=True, type=output_folder,
                        help='folder of the sweep (a rerun continues it)')
    args = parser.parse_args(argv)
    try:
        grid = parse_grid(args.grid)
        result = sweep(args.model, grid, args.out, workers=args.workers, scheduler=args.scheduler, metric=args.metric)
    except GLEConfigError as error:
        parser.error(str(error))
    tasks = result.table['task'].nunique() if len(result.table) else 0
    print(f'sweep of {args.model}: {len(result.table)} rows of {tasks} finished tasks in '
          f'{os.path.join(args.out, "results.csv")}')
    if len(result.summary):
        print(result.summary.to_string(max_cols=12))
    for name, error in result.failed.items():
        print(f'task {name} failed: {error}', file=sys.stderr)
    return 1 if result.failed else 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['sweep']:
        return sweep_main(argv[1:])
    names = available_models()
    parser = argparse.ArgumentParser(prog='gle-brian', description='Run a GLE model of the paper.',
                                     epilog='Options after MODEL go to the model; see  gle-brian MODEL --help. '
                                            'gle-brian sweep --help: run a model over a grid of parameters.')
    parser.add_argument('model', choices=names + ['sweep'], help='the model to run, or sweep')
    parser.add_argument('options', nargs=argparse.REMAINDER, help='options of the model')
    args = parser.parse_args(argv)
    root = os.path.dirname(models_folder())
    if root not in sys.path:
        sys.path.insert(0, root)
    module = importlib.import_module(f'models.{args.model}')
    sys.argv[0] = f'gle-brian {args.model}'
    module.main(args.options)
    return 0


if __name__ == '__main__':
    sys.exit(main())
