"""Runs of any length on a compiled C++ standalone binary: its input and targets streamed from files, part by part.

Brian2 compiles a standalone run for one duration, and a ``TimedArray`` for the number of values it held then. The
binary of a :class:`~gle_brian.network.GLENetwork` on ``'cpp_standalone'`` runs any number of steps instead: its
``main.cpp`` (:func:`stream_run_lines`) reads the run's input and targets from two files, ``part`` steps at a time
(the first run's length) into the TimedArrays' values, and runs the network one part after the other, each read at
``t - t_start`` with ``t_start`` set to the part's start. The network, its clock and its monitors carry on from part
to part as within one Brian2 run, so a run of any length gives the numbers of the same steps run as several runs
(tested). The run's length and its files reach the binary as environment variables (:func:`environment`); without
them the binary runs its compiled duration with the values compiled in.

Example (a network compiled by a run of 100 steps, run for 250 steps and then for 30)::

    >>> import numpy as np
    >>> from brian2 import ms
    >>> from gle_brian import GLENetwork, Layer
    >>> net = GLENetwork(1, [Layer(2, tau_m=1*ms)], dt=0.1*ms)      # doctest: +SKIP
    >>> for steps in (100, 250, 30):                                # doctest: +SKIP
    ...     net.run(np.ones(steps))
"""
import os
import re

import numpy as np
from brian2.devices import get_device

__all__ = ['STEPS', 'INPUT', 'TARGET', 'stream_run_lines', 'environment', 'write_values']

#: the environment variables of a run: its number of steps, and the files of its input and targets
STEPS, INPUT, TARGET = 'GLE_BRIAN_RUN_STEPS', 'GLE_BRIAN_INPUT', 'GLE_BRIAN_TARGET'

#: Brian2's line of main.cpp that runs the network: ``<network>.run(<duration>, <report arguments>);``
_RUN = re.compile(r'(\w+)\.run\([^,]+, (.*)\);')

_LOOP = '''\
{{  // gle_brian/streaming.py: a run of any number of steps, its input and targets read part by part
    const char *_gle_steps = std::getenv("{steps}");
    const long long _gle_total = _gle_steps ? std::atoll(_gle_steps) : {part};
    std::ifstream {streams};
{open}
    double _gle_loop_time = 0.0;
    long long _gle_done = 0;
    while (_gle_done < _gle_total && !Network::_globally_stopped) {{
        const long long _gle_n = _gle_total - _gle_done < {part} ? _gle_total - _gle_done : {part};
{read}
{starts}
        {network}.run(_gle_n * {dt!r}, {report});
        _gle_loop_time += Network::_last_run_time;
        _gle_done += _gle_n;
    }}
    Network::_last_run_time = _gle_loop_time;
    Network::_last_run_completed_fraction = _gle_total ? (double)_gle_done / _gle_total : 1.0;
}}'''

_OPEN = '''\
    if (const char *_gle_path = std::getenv("{variable}")) {{
        {stream}.open(_gle_path, std::ios::binary);
        if (!{stream}) {{ std::cout << "gle_brian: cannot open {variable}=" << _gle_path << std::endl; std::exit(1); }}
    }}'''

_READ = '''\
        if ({stream}.is_open() && !{stream}.read(reinterpret_cast<char *>({values}), _gle_n * {row_bytes})) {{
            std::cout << "gle_brian: the file of {variable} ends after " << _gle_done + {stream}.gcount() / {row_bytes}
                      << " steps; the run has " << _gle_total << std::endl;
            std::exit(1);
        }}'''


def stream_run_lines(run_lines, clock, part, streams, starts):
    """Have ``main.cpp`` (Brian2's ``run_lines`` of a standalone run, changed in place) run any number of steps.

    Parameters
    ----------
    run_lines : list of str
        The lines Brian2 made for the run (a ``<network>.run(duration, ...)`` line among them).
    clock : Clock
        The clock of the groups that read the TimedArrays.
    part : int
        The steps the TimedArrays hold (the first run's length): the run goes in parts of at most this many.
    streams : list of (TimedArray, str)
        Each TimedArray read by the network and the environment variable that names its file (the values of the
        whole run, a row of the TimedArray per step, in its type; :func:`write_values`).
    starts : list of Variable
        The ``t_start`` variables (shared) of the groups that read the TimedArrays at ``t - t_start``.
    """
    device = get_device()
    names = [f'_gle_stream_{k}' for k in range(len(streams))]
    t = f'brian::{device.get_array_name(clock.variables["t"])}[0]'
    runs = [(k, match) for k, line in enumerate(run_lines) if (match := _RUN.fullmatch(line.strip()))]
    if len(runs) != 1:
        raise RuntimeError(f'expected one run in the lines of main.cpp, found {len(runs)}')
    (k, match), = runs
    network, report = match.groups()
    run_lines[k] = _LOOP.format(
        steps=STEPS, part=int(part), streams=', '.join(names), network=network, dt=float(clock.dt_), report=report,
        open='\n'.join(_OPEN.format(variable=variable, stream=name) for (_, variable), name in zip(streams, names)),
        read='\n'.join(_READ.format(variable=variable, stream=name, values=f'brian::{timed.name}_values',
                                    row_bytes=timed.values[0].nbytes)
                       for (timed, variable), name in zip(streams, names)),
        starts='\n'.join(f'        brian::{device.get_array_name(start)}[0] = {t};' for start in starts))


def write_values(path, values, dtype):
    """Write ``values`` (steps, width) as the file of a run's stream, in the TimedArray's ``dtype``: a new file (an
    existing one is removed first: rewriting a file in place makes ext4 flush it to the disk)."""
    if os.path.exists(path):
        os.remove(path)
    np.ascontiguousarray(values, dtype=dtype).tofile(path)


def environment(steps, files):
    """The environment variables of a run of ``steps`` steps whose streams are in ``files`` (``{variable: path}``)."""
    return {STEPS: str(int(steps)), **files}
