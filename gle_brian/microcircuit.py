"""The microcircuit form of a GLE network: representation and error neurons as separate populations.

Each layer of the compact :class:`~gle_brian.network.GLENetwork` (one neuron holds both the rate and
the error) becomes two Brian2 populations of the same size, wired one-to-one:

* **representation neurons** (``layer_l``, or the population's name) integrate their basal input with
  ``tau_m`` and emit the prospective rate ``r = phi(u + tau_r du/dt)``; their apical dendrite receives the
  top-down input ``I_apical = W^T e`` from the layer above, and their apical compartment the error ``e`` of
  their partner error neuron, which nudges the soma (``gamma e``) and drives plasticity;
* **error neurons** (``layer_l_error``) integrate ``phi'(u_breve) * I_apical`` with ``tau_r`` (the
  retrospective low-pass ``v``) and emit the prospective error ``e = v + tau_m dv/dt``: the two time
  constants swap roles.

Projections: the feed-forward projection ``layer_{l-1} -> layer_l`` is built as in the compact network
(weights ``w`` held once, ``W r`` onto the basal dendrites, ``W^T e`` down to the apical dendrites);
a one-to-one link ``layer_l -> layer_l_error`` carrying ``phi'`` and the apical input; a one-to-one link
``layer_l_error -> layer_l`` carrying the error into the representation neuron's apical compartment.
The network is built by the compact network's builder (:mod:`gle_brian.network`), with a population that
becomes two groups, and runs on its ``SCHEDULE`` (the error neurons and the links have slots of their own
before the representation neurons' dendrites), so both forms compute the same numbers (the reference step,
docs/model.rst, sections 'The discrete step' and 'Representation and error populations'), with batches and
either loss.

Example::

    >>> from brian2 import ms
    >>> from gle_brian import Layer
    >>> from gle_brian.microcircuit import MicrocircuitNetwork
    >>> net = MicrocircuitNetwork(1, [Layer(2, 'tanh', tau_m=1*ms, tau_r=0.1*ms), Layer(3, tau_m=1*ms)],
    ...                           dt=0.01*ms, device='numpy', loss='ce', beta=0.1, batch=4, seed=1)
    >>> [group.name for group in net.error_neurons]
    ['layer_0_error', 'layer_1_error']

The same for a graph (:class:`~gle_brian.graph.GLEGraph`'s arguments): :class:`MicrocircuitGraph`.
"""
from brian2 import Equations, NeuronGroup, Synapses, linked_var

from .graph import GLEGraph
from .network import GLENetwork, _schedule
from .neurons import INSTANTANEOUS_ERROR, PROSPECTIVE_ERROR, SOMA, error_code, neuron_equations, representation_code

__all__ = ['MicrocircuitNetwork', 'MicrocircuitGraph', 'representation_equations', 'error_equations']

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
    return Equations(neuron_equations(errors=False))


def error_equations(prospective_errors=True):
    """Equations of an error neuron: the error dynamics plus the inputs and time constants they read."""
    soma = Equations(SOMA)
    return (Equations(PROSPECTIVE_ERROR if prospective_errors else INSTANTANEOUS_ERROR)
            + Equations([soma[name] for name in _ERROR_NEURON_VARIABLES]) + Equations(LINKED_TIME_CONSTANTS))


class MicrocircuitNetwork(GLENetwork):
    """A GLE network in microcircuit form: per layer a representation and an error population.

    Takes the parameters of :class:`~gle_brian.network.GLENetwork` (batches and both losses included) and
    runs, records and reads out like it (``run``, ``trace``, ``weights``); ``neurons`` are the representation
    populations, ``error_neurons`` the error populations, ``links`` the one-to-one synapses between them.
    ``record=`` may include ``'v'`` (recorded from the error neurons).

    Plasticity (``learning=``) uses the compact network's equations and schedule slot: the weights learn
    on the projections (from ``err_post``, the error the error link delivers, and ``r_pre``), biases and
    ``tau_m`` on the representation neurons (the error neurons' time constants are linked to them).
    """

    def _build(self, weights):
        self.error_neurons, self.links = [], []
        super()._build(weights)

    def _neuron_equations(self, layer):
        return neuron_equations(shared_parameters=self.batch > 1, errors=False)

    @staticmethod
    def _dendrite_code(layer, learn_tau_m):
        return representation_code(learn_tau_m)

    def _population(self, l, layer, clock, objects, shares):
        """The representation neurons (the compact builder's group without error dynamics), their error
        neurons and the one-to-one links between them (added to ``objects``)."""
        rep, params = super()._population(l, layer, clock, objects, shares)
        name = self.group_names[l]
        err = NeuronGroup(len(rep), error_equations(layer.prospective_errors), method='euler', clock=clock,
                          name=f'{name}_error')
        err.tau_m = linked_var(rep, 'tau_m')
        err.tau_r = linked_var(rep, 'tau_r')
        _schedule(err.state_updater, 'soma')
        _schedule(err.run_regularly(error_code(layer.prospective_errors), name=f'{name}_error_dendrites'),
                  'error_dendrites')
        rate_link = Synapses(rep, err, RATE_LINK, clock=clock, name=f'{name}_rate_link')
        error_link = Synapses(err, rep, ERROR_LINK, clock=clock, name=f'{name}_error_link')
        for link in (rate_link, error_link):
            link.connect(j='i')
        for name in ('r_prime_post', 'I_apical_post'):
            _schedule(rate_link.summed_updaters[name], 'rate_link')
        _schedule(error_link.summed_updaters['err_post'], 'error_link')
        self.error_neurons.append(err)
        self.links += [rate_link, error_link]
        objects += [err, rate_link, error_link]
        return rep, params

    def layer_groups(self, l):
        return [self.neurons[l], self.error_neurons[l]]


class MicrocircuitGraph(MicrocircuitNetwork, GLEGraph):
    """A graph (:class:`~gle_brian.graph.GLEGraph`: named populations, projections of any shape, several outputs)
    in microcircuit form: every population a representation and an error population (``<name>_error``).

    Takes :class:`~gle_brian.graph.GLEGraph`'s arguments and computes its numbers. Example::

        >>> from brian2 import ms
        >>> from gle_brian import Layer, Projection
        >>> net = MicrocircuitGraph(2, {'L4': Layer(3, 'tanh', tau_m=1*ms), 'out': Layer(1, tau_m=1*ms)},
        ...                         [Projection('input', 'L4'), Projection('L4', 'L4', connect='i != j'),
        ...                          Projection('L4', 'out')], dt=0.01*ms, device='numpy', loss='mse')
        >>> [group.name for group in net.error_neurons]
        ['L4_error', 'out_error']
    """
