"""GLE networks of any shape: named populations wired by projections (skip, lateral, recurrent, sparse, signed).

A population is a :class:`~gle_brian.neurons.Layer` (size, activation, time constants, ``gamma``, bias, error
form); a :class:`Projection` connects the input or a population to a population, itself included, with
Brian2's own connection arguments and an optional sign constraint (Dale's law). The network is built by the
same builder and runs on the same schedule as the layered :class:`~gle_brian.network.GLENetwork`: every
projection reads the values stored before the step, so a loop is well defined (one step of delay per synapse
in each direction; docs/model.rst, section 'Graphs'), and the numpy mirror
:class:`~gle_brian.reference.ReferenceGraph` computes the same numbers.

Example: a population with lateral connections and a top-down loop, read out by an output population::

    >>> from brian2 import ms
    >>> from gle_brian import Layer
    >>> populations = {'L4': Layer(8, 'tanh', tau_m=1*ms, tau_r=0.2*ms),
    ...                'L23': Layer(6, 'tanh', tau_m=1*ms, tau_r=0.2*ms),
    ...                'out': Layer(2, 'linear', tau_m=1*ms)}
    >>> projections = [Projection('input', 'L4'), Projection('L4', 'L4', connect='i != j', sign=-1),
    ...                Projection('L4', 'L23', connect=dict(p=0.5)), Projection('L23', 'L4'),
    ...                Projection('L23', 'out')]
    >>> net = GLEGraph(3, populations, projections, dt=0.01*ms, device='numpy', loss='mse', seed=1)
    >>> net.population_names
    ['L4', 'L23', 'out']
"""
from dataclasses import dataclass

import numpy as np

from .errors import GLEConfigError, GLEInputError
from .network import GLENetwork
from .spec import Wiring
from .neurons import Layer
from .reference import INPUT
from .synapses import FEEDBACK_MODES

__all__ = ['GLEGraph', 'Projection']

#: names of the builder's own objects, which no population may take (populations name their Brian2 groups)
RESERVED = frozenset({INPUT, 'network', 'gle_clock', 'input_rates'})
#: what the objects of a population ``p`` are called (``p_<suffix>``): no other population may take those names
DERIVED = ('dendrites', 'apical_sum', 'rate', 'parameters', 'batch_sums', 'b_plasticity', 'tau_m_plasticity',
           'stateupdater', 'error', 'error_dendrites', 'error_stateupdater', 'rate_link', 'error_link', 'output',
           'output_error', 'output_softmax')
#: the longest population name: Brian2's standalone files are named after the objects (file names <= 255 bytes)
MAX_NAME = 100


@dataclass(frozen=True)
class Projection:
    """A projection from ``pre`` (a population's name, or ``'input'``) onto the population ``post``.

    Parameters
    ----------
    pre, post : str
        Population names (``pre`` may be ``'input'``; ``pre == post`` is a lateral projection).
    connect : None, str or dict
        ``None``: all-to-all (dense products in the generated code); a condition in ``i`` (presynaptic) and
        ``j`` (postsynaptic), e.g. ``'abs(i - j) < 3'``; or a dict of Brian2's ``Synapses.connect`` arguments,
        e.g. ``dict(p=0.1)`` (drawn with the network's seed).
    sign : None, +1 or -1
        Dale's law: the weights stay ``>= 0`` (excitatory) or ``<= 0`` (inhibitory).
    weights : array or None
        Initial ``W`` (``n_post x n_pre``); ``None``: drawn like PyTorch's ``nn.Linear`` (with the sign).
    plastic : bool
        Whether the weights learn (when the network has ``learning``); ``False`` keeps them fixed.
    feedback : None, 'symmetric' or 'random'
        How errors go back from ``post`` to ``pre``: through ``W`` itself, or a fixed random matrix (feedback
        alignment; from ``feedback_weights``, or drawn with ``seed + 1``); ``None``: the network's ``feedback``.
    """
    pre: str
    post: str
    connect: object = None
    sign: object = None
    weights: object = None
    plastic: bool = True
    feedback: object = None


class GLEGraph(GLENetwork):
    """A GLE network of named populations and projections between them.

    Parameters
    ----------
    n_in : int
        Input size (the input drives the populations that ``'input'`` projections reach).
    populations : dict
        ``{name: Layer}``.
    projections : list of Projection
    dt : Quantity
        Time step.
    output : str, list of str or None
        The population(s) with an output error (``loss``, ``beta``) and a target; the last one when ``None``.
        Targets are given side by side in this order (``n_out`` channels), or as a dict ``{name: array}``. An
        output may send projections too: its apical input is then the output error plus the errors its
        projections send back.
    **kwargs
        As :class:`~gle_brian.network.GLENetwork` (``device``, ``loss``, ``beta``, ``learning``, ``batch``,
        ``feedback``, ``feedback_weights`` (one per projection), ``seed``, ``record``, ...); ``record`` may not
        hold ``'w'`` (read ``weights``, one matrix per projection).

    The Brian2 groups are named after the populations (state keys such as ``'L4.u'``). Populations are indexed
    in the order of ``population_names`` (the outputs last, in the order of ``output``): ``trace(variable, index)``,
    ``neurons[index]``, ``biases``, ``tau_m``; ``weights`` follow the order of ``projections``. Learning rates
    given per population (``Learning(lr=[...])``) apply to the population's biases, time constants and the
    weights of the projections into it.
    """

    def __init__(self, n_in, populations, projections, dt, output=None, **kwargs):
        if not isinstance(populations, dict) or not populations or \
                not all(isinstance(layer, Layer) for layer in populations.values()):
            raise GLEConfigError(f'populations={populations!r}: give a dict {{name: Layer}}, e.g. '
                                 "{'L4': Layer(100, 'tanh', tau_m=10*ms)}.")
        names = list(populations)
        outputs = [names[-1]] if output is None else [output] if isinstance(output, str) else \
            list(output) if isinstance(output, (list, tuple)) else [output]
        for name in names:
            if not isinstance(name, str) or not name.isidentifier() or name.startswith('_') or name in RESERVED \
                    or name.startswith(('projection_', 'record_')):
                raise GLEConfigError(f'populations: the name {name!r} cannot name Brian2 groups; give names '
                                     "of letters, digits and '_' that start with a letter (e.g. 'L23' for L2/3), "
                                     f"other than {sorted(RESERVED)} and not starting with 'projection_' or 'record_'.")
        clashes = [(a, b) for a in names for b in names if b in {f'{a}_{suffix}' for suffix in DERIVED}]
        if clashes:
            raise GLEConfigError(f'populations: {clashes[0][1]!r} is the name of an object of population '
                                 f'{clashes[0][0]!r}; rename one (names ending in {sorted(DERIVED)} after another '
                                 "population's name and '_' are taken).")
        long = [name for name in names if len(name) > MAX_NAME]
        if long:
            raise GLEConfigError(f'populations: the name {long[0][:20]!r}... has {len(long[0])} characters; give names '
                                 f'of at most {MAX_NAME} (standalone projects name their files after them).')
        unknown = [name for name in outputs if name not in populations]
        if unknown or not outputs or len(set(outputs)) != len(outputs):
            raise GLEConfigError(f'output={output!r}: {unknown or "no population, or one twice"}; give one of {names} '
                                 'or a list of them (each once).')
        ordered = [name for name in names if name not in outputs] + outputs      # the outputs last
        if not isinstance(projections, (list, tuple)) or not all(isinstance(p, Projection) for p in projections):
            raise GLEConfigError(f'projections={projections!r}: give a list of Projection(pre, post, ...).')
        index = {name: q for q, name in enumerate(ordered)}
        for k, p in enumerate(projections):
            for end, name in (('pre', p.pre), ('post', p.post)):
                if name not in index and not (end == 'pre' and name == INPUT):
                    raise GLEConfigError(f'projections[{k}] ({p.pre} -> {p.post}): {end}={name!r} is not a population; '
                                         f'use one of {names}' + " or 'input'" * (end == 'pre') + '.')
            if not isinstance(p.plastic, (bool, np.bool_)):
                raise GLEConfigError(f'projections[{k}] ({p.pre} -> {p.post}): plastic={p.plastic!r}: give True (the '
                                     'weights learn) or False (fixed).')
            if p.feedback not in (None, *FEEDBACK_MODES):
                raise GLEConfigError(f'projections[{k}] ({p.pre} -> {p.post}): feedback={p.feedback!r} is not known; '
                                     f'use one of {list(FEEDBACK_MODES)} (None: the network\'s feedback).')
        if 'w' in kwargs.get('record', ()):
            raise GLEConfigError("record=[..., 'w']: a graph's weights are not recorded per population; read "
                                 'net.weights (one matrix per projection) between runs.')
        weights = [p.weights for p in projections] if any(p.weights is not None for p in projections) else None
        wiring = Wiring(tuple(ordered),
                        tuple((INPUT if p.pre == INPUT else index[p.pre], index[p.post]) for p in projections),
                        tuple(range(len(names) - len(outputs), len(names))), tuple(p.feedback for p in projections),
                        tuple(bool(p.plastic) for p in projections),
                        tuple(f'population {name} (index {q})' for q, name in enumerate(ordered)))
        super().__init__(n_in, [populations[name] for name in ordered], dt, weights=weights,
                         connect=[p.connect for p in projections], signs=[p.sign for p in projections], wiring=wiring,
                         **kwargs)
        self.output_names, self.population_names, self.graph_projections = outputs, ordered, list(projections)

    def run(self, x, target=None, duration=None, learn=None):
        """As :meth:`GLENetwork.run <gle_brian.network.GLENetwork.run>`; ``target`` may also be a dict
        ``{output population: array (T, n) or (T, batch, n)}`` with an entry for each output."""
        if isinstance(target, dict):
            target = self._targets(target)
        super().run(x, target, duration, learn)

    def _targets(self, targets):
        """The outputs' targets side by side, from ``{population: array}``."""
        wrong = [name for name in targets if name not in self.output_names]
        if wrong:
            raise GLEInputError(f'target has entries for {wrong}, which have no output error (the outputs are '
                                f'{self.output_names}); build the graph with output=[...] naming them, or drop them.')
        missing = [name for name in self.output_names if name not in targets]
        if missing:
            raise GLEInputError(f'target has no entry for the outputs {missing}; give one array per output '
                                f'({self.output_names}).')
        steps = None           # every output's target is checked as run() checks one, with the first one's steps
        arrays = []
        for name in self.output_names:
            array = self.check_signal(targets[name], f'target[{name!r}]',
                                       self.layers[self.population_names.index(name)].size, steps)
            steps = len(array)
            arrays.append(array.reshape(steps, self.batch, -1))
        return np.concatenate(arrays, axis=2)
