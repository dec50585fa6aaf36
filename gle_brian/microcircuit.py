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
The network is built by the compact network's builder (:mod:`gle_brian.builder`), each
:class:`~gle_brian.groups.GLEGroup` made with ``microcircuit=True`` (two groups), and runs on the same
``SCHEDULE`` (the error neurons and the links have slots of their own
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
from .graph import GLEGraph
from .network import GLENetwork
from .neurons import error_equations, representation_equations

__all__ = ['MicrocircuitNetwork', 'MicrocircuitGraph', 'representation_equations', 'error_equations']


class MicrocircuitNetwork(GLENetwork):
    """A GLE network in microcircuit form: per layer a representation and an error population.

    Takes the parameters of :class:`~gle_brian.network.GLENetwork` (batches and both losses included) and
    runs, records and reads out like it (``run``, ``trace``, ``weights``); ``neurons`` are the representation
    populations, ``error_neurons`` the error populations, ``links`` the one-to-one synapses between them (each
    :class:`~gle_brian.groups.GLEGroup` built with ``microcircuit=True``). ``record=`` may include ``'v'``
    (recorded from the error neurons).

    Plasticity (``learning=``) uses the compact network's equations and schedule slot: the weights learn
    on the projections (from ``err_post``, the error the error link delivers, and ``r_pre``), biases and
    ``tau_m`` on the representation neurons (the error neurons' time constants are linked to them).
    """

    microcircuit = True


class MicrocircuitGraph(GLEGraph):
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

    microcircuit = True
