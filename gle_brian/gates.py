"""Work a run skips: the operations of learning while it is off, and the error path in inference runs.

Some operations of the step (:data:`~gle_brian.schedule.SCHEDULE`) have nothing to do in some runs:

* ``'gradient'`` and ``'plasticity'`` (the drives, their sums over the batch copies, the optimiser steps) change
  nothing while every ``plastic_<param>`` switch of the group they write is 0 (the optimisers keep parameter and
  state then, :mod:`gle_brian.optimisers`);
* ``'softmax'``, ``'output_error'``, ``'apical'`` and ``'apical_sum'`` (the error path) write zeros in an inference
  run (``GLENetwork.run(..., inference=True)``: no target, no soma feels its errors, every error starts at rest).

A skipped object leaves what it writes as it was, so the rates, parameters and errors of a run are those of the
full computation; the drives (``g_w``, ``g_b``, ``err_sum``) and the softmax normaliser (``softmax_sum``) keep the
values of the last run that computed them (each is written again before it is read). On runtime targets the
objects are inactive for the run (:func:`switch`); a compiled C++ standalone binary calls each through a test of
its switches at every step (:func:`gate_run_lines`), so one binary trains and tests.

Example::

    >>> from brian2 import ms
    >>> from gle_brian import GLENetwork, Layer, Learning, SGD
    >>> net = GLENetwork(1, [Layer(2, tau_m=1*ms)], dt=0.1*ms, device='numpy', loss='mse',
    ...                  learning=Learning(SGD(lr=0.1)))
    >>> [(gate.obj.name, gate.when_set) for gate in gates(net.network, net.input)][:3]
    [('layer_0_apical_sum', False), ('layer_0_output_error', False), ('projection_0_gradient', True)]
"""
import dataclasses
import re

from brian2.devices import get_device

from .devices import all_objects

__all__ = ['LEARNING', 'ERROR_PATH', 'INFERENCE', 'INFERENCE_SWITCH', 'Gate', 'gates', 'switch', 'gate_run_lines']

#: operations that change nothing while learning is off
LEARNING = ('gradient', 'plasticity')
#: operations that write zeros in an inference run
ERROR_PATH = ('softmax', 'output_error', 'apical', 'apical_sum')
#: the name of the shared switch of an inference run, and its declaration (a constant: not part of the state)
INFERENCE = 'inference'
INFERENCE_SWITCH = f'{INFERENCE} : 1 (shared, constant)  # 1 in an inference run: the error path is skipped'


@dataclasses.dataclass(frozen=True)
class Gate:
    """The Brian2 object ``obj`` runs while any of its ``switches`` (``(group, name)`` of shared variables) is not 0
    (``when_set``), or while all are 0 (not ``when_set``)."""
    obj: object
    switches: tuple
    when_set: bool

    def is_open(self, value):
        """Whether ``obj`` runs, given ``value(group, name)`` (the switch's values)."""
        any_set = any(float(value(group, name)[0]) != 0 for group, name in self.switches)
        return any_set == self.when_set

    def cpp_test(self):
        """The same test in the C++ of a standalone project (reading the switches' arrays)."""
        device = get_device()
        any_set = ' || '.join(f'brian::{device.get_array_name(group.variables[name])}[0] != 0'
                              for group, name in self.switches)
        return f'({any_set})' if self.when_set else f'!({any_set})'


def _learning_switches(obj):
    """The ``plastic_*`` switches of the group that ``obj`` writes (a summed variable's target, or its own group)."""
    for group in (getattr(obj, 'target', None), getattr(obj, 'group', None)):
        switches = tuple((group, name) for name in getattr(group, 'variables', {}) if name.startswith('plastic_'))
        if switches:
            return switches
    return ()


def gates(network, inference=None):
    """The :class:`Gate` of every object of ``network`` that a run may skip: learning's by the ``plastic_*``
    switches of the group it writes, the error path's by the ``inference`` switch of the group ``inference``
    (``None``: the error path always runs)."""
    found = []
    for obj in sorted(all_objects(network), key=lambda obj: obj.name):
        operation = getattr(obj, '_gle_operation', None)
        if operation in LEARNING and (switches := _learning_switches(obj)):
            found.append(Gate(obj, switches, True))
        elif operation in ERROR_PATH and inference is not None:
            found.append(Gate(obj, ((inference, INFERENCE),), False))
    return found


def switch(gate_list, value):
    """Runtime targets: make each gated object active for the next run or not, by ``value(group, name)``."""
    for gate in gate_list:
        gate.obj.active = gate.is_open(value)


def gate_run_lines(run_lines, gate_list):
    """C++ standalone: have the network of a run (Brian2's ``run_lines`` of ``main.cpp``, changed in place) call each
    gated code object through its test, ``net.add(&clock, [](){ if (test) _run_<code object>(); });``."""
    tests = {codeobj.name: gate.cpp_test() for gate in gate_list for codeobj in gate.obj._code_objects}
    for k, line in enumerate(run_lines):
        match = re.fullmatch(r'(\w+)\.add\(&(\w+), _run_(\w+)\);', line)
        if match and match.group(3) in tests:
            network, clock, name = match.groups()
            run_lines[k] = f'{network}.add(&{clock}, [](){{ if ({tests[name]}) _run_{name}(); }});'
