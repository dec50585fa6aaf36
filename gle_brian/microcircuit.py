"""The microcircuit form of a GLE network: representation and error neurons as separate populations.

Each layer of the compact :class:`~gle_brian.network.GLENetwork` (one neuron holds both the rate and
the error) becomes two Brian2 populations of the same size, wired one-to-one:

* **representation neurons** (``layer_l``) integrate their basal input with ``tau_m`` and emit the
  prospective rate ``r = phi(u + tau_r du/dt)``; their apical dendrite receives the top-down input
  ``I_apical = W^T e`` from the layer above, and their apical compartment the error ``e`` of their
  partner error neuron, which nudges the soma (``gamma e``) and drives plasticity;
* **error neurons** (``error_l``) integrate ``phi'(u_breve) * I_apical`` with ``tau_r`` (the
  retrospective low-pass ``v``) and emit the prospective error ``e = v + tau_m dv/dt``: the two time
  constants swap roles.

Projections: the feed-forward projection ``layer_{l-1} -> layer_l`` is built as in the compact network
(weights ``w`` held once, ``W r`` onto the basal dendrites, ``W^T e`` down to the apical dendrites);
a one-to-one link ``layer_l -> error_l`` carrying ``phi'`` and the apical input; a one-to-one link
``error_l -> layer_l`` carrying the error into the representation neuron's apical compartment.
The populations follow the compact network's ``SCHEDULE``, so both forms compute the same numbers
(the reference step, docs/model.rst, section 'The discrete step').

Example::

    >>> from brian2 import ms
    >>> from gle_brian import Layer
    >>> from gle_brian.microcircuit import MicrocircuitNetwork
    >>> net = MicrocircuitNetwork(1, [Layer(2, 'tanh', tau_m=1*ms, tau_r=0.1*ms), Layer(1, tau_m=1*ms)],
    ...                           dt=0.01*ms, device='numpy', loss='mse', beta=0.1, seed=1)
    >>> [group.name for group in net.error_neurons]
    ['error_0', 'error_1']
"""
from brian2 import Clock, Equations, Network, NeuronGroup, StateMonitor, Synapses, linked_var, second

from .errors import GLEConfigError
from .network import SCHEDULE, GLENetwork, _basal_code, _sampling_clock
from .neurons import (INSTANTANEOUS_ERROR, PROSPECTIVE_ERROR, SOMA, error_code, plasticity_equations,
                      representation_code)

__all__ = ['MicrocircuitNetwork', 'representation_equations', 'error_equations', 'MICROCIRCUIT_SCHEDULE']

#: The compact network's schedule with the dendrite step split in three: error neurons first, then
#: the error link into the representation neurons, then their prospective potential (all before the
#: Euler update of the soma). Every other operation keeps its compact slot.
MICROCIRCUIT_SCHEDULE = dict(
    SCHEDULE,
    error_dendrites=(SCHEDULE['dendrites'][0], SCHEDULE['dendrites'][1] - 2),  # e from v, phi', I_apical
    error_link=(SCHEDULE['dendrites'][0], SCHEDULE['dendrites'][1] - 1),       # e -> representation neuron
    rate_link=SCHEDULE['basal'],      # phi' and I_apical (stored values) -> error neuron, with the basal sums
)

# The links, one-to-one (Brian2 summed variables over a single synapse per neuron).
RATE_LINK = '''
r_prime_post = r_prime_pre : 1 (summed)            # phi'(u_breve) of the partner representation neuron
I_apical_post = I_apical_pre : 1 (summed)          # top-down input of its apical dendrite
'''
ERROR_LINK = '''
err_post = err_pre : 1 (summed)                    # the error, into the apical compartment
'''

# The error neuron's inputs and output, taken from the compact neuron (declared once, in neurons.SOMA).
_ERROR_NEURON_VARIABLES = ('r_prime', 'I_apical', 'err')
# Its time constants are those of its partner representation neuron (linked, so they are held once).
LINKED_TIME_CONSTANTS = '''
tau_m : second (linked)                            # look-ahead of the error = partner's membrane tau_m
tau_r : second (linked)                            # low-pass of the error = partner's prospective tau_r
'''


def representation_equations():
    """Equations of a representation neuron: the compact neuron without the error dynamics."""
    return Equations(SOMA)


def error_equations(prospective_errors=True):
    """Equations of an error neuron: the error dynamics plus the inputs and time constants they read."""
    soma = Equations(SOMA)
    return (Equations(PROSPECTIVE_ERROR if prospective_errors else INSTANTANEOUS_ERROR)
            + Equations([soma[name] for name in _ERROR_NEURON_VARIABLES]) + Equations(LINKED_TIME_CONSTANTS))


def _schedule(obj, operation):
    obj.when, obj.order = MICROCIRCUIT_SCHEDULE[operation]


class MicrocircuitNetwork(GLENetwork):
    """A GLE network in microcircuit form: per layer a representation and an error population.

    Takes the parameters of :class:`~gle_brian.network.GLENetwork` and runs, records and reads out
    like it (``run``, ``trace``, ``weights``); ``neurons`` are the representation populations,
    ``error_neurons`` the error populations, ``links`` the one-to-one synapses between them.
    ``record=`` may include ``'v'`` (recorded from the error neurons).

    Plasticity (``learning=``) uses the compact network's equations and schedule slot: the weights learn
    on the projections (from ``err_post``, the error the error link delivers, and ``r_pre``), biases and
    ``tau_m`` on the representation neurons (the error neurons' time constants are linked to them).
    """

    def __init__(self, n_in, layers, dt, **kwargs):
        if kwargs.get('loss') == 'ce':
            raise GLEConfigError("loss='ce': the microcircuit form has the MSE output error only; use loss='mse', "
                                 'or GLENetwork for cross-entropy.')
        if kwargs.get('batch', 1) != 1:
            raise GLEConfigError(f"batch={kwargs['batch']!r}: the microcircuit form runs one copy of the network; "
                                 'leave batch=1 (run the batch one sample after the other), or use GLENetwork.')
        super().__init__(n_in, layers, dt, **kwargs)

    def _build(self, weights):
        clock = Clock(self.dt, name='gle_clock')
        self.input = self._input_group(clock)
        self.neurons, self.error_neurons, self.links, self.monitors = [], [], [], []
        self.learned = []             # (group, parameter, layer) of every learned parameter
        self.weight_groups, self.weight_positions, self.functions = [], [], {}   # see GLENetwork._project
        projections = []
        learning = self.learning
        top = len(self.layers) - 1
        pre = self.input
        for l, layer in enumerate(self.layers):
            output_error = l == top and self.loss is not None
            learned = self._learned(layer)
            rep = NeuronGroup(layer.size, representation_equations()
                              + Equations('beta : 1 (shared)' if output_error else '')
                              + Equations(plasticity_equations(learning.optimiser, learned,
                                                             shared_counters=self.shared_counters)
                                          if learned else ''),
                              method='euler', clock=clock, name=f'layer_{l}')
            err = NeuronGroup(layer.size, error_equations(layer.prospective_errors), method='euler', clock=clock,
                              name=f'error_{l}')
            tau_m, tau_r = self.time_constants[l]
            rep.tau_m = tau_m * second
            rep.tau_r = tau_r * second
            err.tau_m = linked_var(rep, 'tau_m')
            err.tau_r = linked_var(rep, 'tau_r')
            _schedule(err.state_updater, 'soma')
            rep.gamma = layer.gamma
            rep.b = self.initial_biases[l]
            _schedule(err.run_regularly(error_code(layer.prospective_errors), name=f'error_{l}_dendrites'),
                      'error_dendrites')
            holder, basal = self._project(l, pre, rep, weights[l], clock, projections)
            _schedule(rep.run_regularly(_basal_code([basal]) + representation_code('tau_m' in learned),
                                        name=f'layer_{l}_dendrites'), 'dendrites')
            self._schedule_neurons(rep, rep, l, learned)

            rate_link = Synapses(rep, err, RATE_LINK, clock=clock, name=f'rate_link_{l}')
            error_link = Synapses(err, rep, ERROR_LINK, clock=clock, name=f'error_link_{l}')
            for link in (rate_link, error_link):
                link.connect(j='i')
            for name in ('r_prime_post', 'I_apical_post'):
                _schedule(rate_link.summed_updaters[name], 'rate_link')
            _schedule(error_link.summed_updaters['err_post'], 'error_link')

            self.monitors.append(self._layer_monitors(rep, err, holder))
            self.neurons.append(rep)
            self.error_neurons.append(err)
            self.links += [rate_link, error_link]
            pre = rep
        self.output = self.neurons[-1]
        self.network = Network(self.input, *self.neurons, *self.error_neurons, *projections, *self.links,
                               *self._monitor_objects(), name='network')

    def _layer_monitors(self, rep, err, weights):
        """``{variable: StateMonitor}`` for the ``record=`` variables of one layer."""
        monitors = {}
        for source, names in ((rep, [v for v in self.record if v not in ('v', 'w')]),
                              (err, [v for v in self.record if v == 'v']),
                              (weights, [v for v in self.record if v == 'w'])):
            if names:
                if 'v' in names and 'v' not in err.variables:
                    raise GLEConfigError("record=[..., 'v']: v exists only with prospective_errors=True; drop it "
                                         'from record or change the Layer.')
                monitor = StateMonitor(source, names, record=True, name=f'record_{source.name}',
                                       clock=_sampling_clock(source.clock, self.record_dt, f'record_{source.name}'))
                _schedule(monitor, 'record')
                monitors.update(dict.fromkeys(names, monitor))
        return monitors

    def _layer_groups(self, l):
        return [self.neurons[l], self.error_neurons[l]]
