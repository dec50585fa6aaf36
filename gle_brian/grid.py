"""The parameters of a sweep: grids parsed from the command line, their combinations, the folder name of each
combination and its values as JSON.

A grid maps parameter names to lists of values; every combination is one task of a sweep
(:mod:`gle_brian.sweep`). Each task's folder is named from its parameters without collisions (:func:`task_name`),
and Quantities are stored with their unit (:func:`jsonable`). Example::

    >>> combinations(parse_grid(['seed=1:2', 'lr=1e-3']))
    [{'seed': 1, 'lr': 0.001}, {'seed': 2, 'lr': 0.001}]
    >>> task_name({'seed': 1, 'lr': 0.001})
    'seed=1,lr=0.001'
"""
import hashlib
import itertools
import json
import re

import numpy as np
from brian2 import Quantity

from .errors import GLEConfigError

__all__ = ['parse_grid', 'combinations', 'grid_lists', 'task_name', 'jsonable', 'table_value', 'MAX_TASKS',
           'MAX_NAME']


def parse_grid(items):
    """The grid of the command line: ``['seed=1:10', 'lr=1e-3,5e-4']`` -> ``{'seed': [1, ..., 10], 'lr': [...]}``.

    ``a:b`` are the integers from a to b, both included (``a:b:step`` with a step); commas separate values.
    A value is read as an int, a float, ``true``/``false``, or else kept as text.

        >>> parse_grid(['seed=1:3', 'lr=1e-3,5e-4', 'device=numpy'])
        {'seed': [1, 2, 3], 'lr': [0.001, 0.0005], 'device': ['numpy']}
    """
    grid = {}
    for item in items:
        name, equals, text = item.partition('=')
        name = name.strip()
        if not equals or not name.isidentifier():
            raise GLEConfigError(f'grid entry {item!r}: write NAME=VALUES, e.g. seed=1:10 or lr=1e-3,5e-4.')
        if name in grid:
            raise GLEConfigError(f'grid entry {item!r}: {name} is given twice; list all its values in one entry '
                                 f'({name}=a,b,c).')
        if ':' in text:
            try:
                bounds = [int(part) for part in text.split(':')]
            except ValueError:
                bounds = []
            if len(bounds) not in (2, 3) or (len(bounds) == 3 and bounds[2] < 1):
                raise GLEConfigError(f'grid entry {item!r}: a range is FIRST:LAST or FIRST:LAST:STEP, with integers '
                                     'and a step of at least 1 (e.g. seed=1:10).')
            values = list(range(bounds[0], bounds[1] + 1, bounds[2] if len(bounds) == 3 else 1))
        else:
            values = [_value(part.strip()) for part in text.split(',') if part.strip()]
        if not values:
            raise GLEConfigError(f'grid entry {item!r}: {name} has no values (an empty range or list); give at '
                                 f'least one, e.g. {name}=1:10 or {name}=a,b.')
        grid[name] = values
    return grid


def _value(text):
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {'true': True, 'false': False}.get(text.lower(), text)


#: the most tasks one sweep lists (a larger grid is refused before it is listed)
MAX_TASKS = 100_000


def combinations(grid):
    """The parameters of the tasks: every combination of the grid's values, in the grid's order.

        >>> combinations({'seed': [1, 2], 'lr': [0.1]})
        [{'seed': 1, 'lr': 0.1}, {'seed': 2, 'lr': 0.1}]
    """
    lists = grid_lists(grid)
    count = int(np.prod([len(values) for values in lists.values()], dtype=float))
    if count > MAX_TASKS:
        raise GLEConfigError(f'grid has {count:.3g} combinations, more than a sweep runs (MAX_TASKS = {MAX_TASKS}); '
                             'sweep fewer values, or several sweeps one after the other.')
    return [dict(zip(lists, values)) for values in itertools.product(*lists.values())]


def grid_lists(grid):
    """The grid checked, as lists of plain Python values (numpy scalars converted)."""
    if not isinstance(grid, dict):
        raise GLEConfigError(f'grid must be a dict of parameter name -> values, not {type(grid).__name__}.')
    lists = {}
    for name, values in grid.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise GLEConfigError(f'grid parameter {name!r} is not a keyword name.')
        if isinstance(values, (str, bytes, dict)) or not hasattr(values, '__iter__'):
            raise GLEConfigError(f'grid[{name!r}] must be a list (or range) of values, not {values!r}; '
                                 f'write [{values!r}] for one value.')
        lists[name] = [_scalar(value) for value in values]
        if not lists[name]:
            raise GLEConfigError(f'grid[{name!r}] has no values; give at least one.')
    return lists


#: the longest readable part of a task's folder name (characters; longer ones are cut and get a hash)
MAX_NAME = 120


def _scalar(value):
    """A grid value as a plain Python value: numpy scalars converted, a Quantity kept (a plain number when
    dimensionless), anything else as it is."""
    if isinstance(value, Quantity):
        return value if not value.is_dimensionless else float(value)
    return value.item() if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0) \
        else value


def task_name(params):
    """The folder name of a task: ``seed=1,lr=0.001`` (``default`` without parameters); collision-free.

    Integers, floats and booleans are written as Python writes them, and so are text values made of letters, digits,
    ``.``, ``_`` and ``-`` that cannot be read as another type; anything else (text such as ``'1'``, ``'True'`` or
    ``'x/y'``, Quantities, ``None``) is written with the characters outside that set replaced by ``_`` and the name
    ends in ``~`` and a short hash of the parameters and their types, as does a name cut at :data:`MAX_NAME`
    characters.

        >>> task_name({'seed': 1, 'lr': 0.001, 'device': 'numpy'})
        'seed=1,lr=0.001,device=numpy'
        >>> task_name({'seed': '1'})
        'seed=1~3acaee68'
    """
    parts, plain = [], True
    for name, value in params.items():
        if isinstance(value, Quantity):
            text, plain = '{value:g}{unit}'.format(**jsonable(value)), False
        elif isinstance(value, (bool, int, float)):
            text = repr(value)
        else:
            text = str(value)
            plain = plain and isinstance(value, str) and _SAFE.fullmatch(value) is not None and _value(value) == value
        parts.append(f'{name}={_SAFE_CHARACTER.sub("_", text)}')
    text = ','.join(parts) or 'default'
    if plain and len(text) <= MAX_NAME:
        return text
    typed = [[name, type(value).__name__, jsonable(value)] for name, value in params.items()]
    digest = hashlib.sha1(json.dumps(typed, sort_keys=True).encode()).hexdigest()[:8]
    return f'{text[:MAX_NAME]}~{digest}'


_SAFE = re.compile(r'[A-Za-z0-9._-]+')
_SAFE_CHARACTER = re.compile(r'[^A-Za-z0-9._=-]')


def jsonable(value):
    """``value`` as JSON data: a Quantity as ``{'value': number, 'unit': 'ms'}`` (in its best unit)."""
    if isinstance(value, Quantity):
        unit = value.get_best_unit()
        return {'value': float(value / unit), 'unit': str(unit)}
    return value


def table_value(value):
    """A parameter of a task's ``params.json`` for the results table: a Quantity (``{'value', 'unit'}``) as text,
    ``'5 ms'``."""
    if isinstance(value, dict) and set(value) == {'value', 'unit'}:
        return f"{value['value']:g} {value['unit']}"
    return value
