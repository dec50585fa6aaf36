"""The order of every operation in one GLE time step: one table, read by every object that runs code.

Brian2 runs the objects of a network by their ``when`` slot and ``order``; each GLE object (a
:class:`~gle_brian.groups.GLEGroup`, :class:`~gle_brian.projections.GLEProjection` or
:class:`~gle_brian.targets.GLETarget`) sets the slots of its own operations from :data:`SCHEDULE`, so the
reference's step ("compute every layer from the values stored before the step, then write"; docs/model.rst,
section 'The discrete step') holds in any network these objects are put into, without the user knowing the
table. Nothing depends on Brian2 object names.

Example::

    >>> SCHEDULE['rate']
    ('end', 0)
"""

__all__ = ['SCHEDULE', 'schedule']

#: (slot, order) of every operation in one time step. Every order here matters: the reference's
#: "compute all layers from old values, then write" step is reproduced by this table alone.
SCHEDULE = {
    'input': ('start', 0),             # input rates x[n] from the TimedArray (the layered front's input group)
    'softmax': ('start', 1),           # loss='ce': softmax normaliser sum_j exp(r_j^n - r_k^n) per batch copy,
                                       # summed from the old rates just before the output error reads it
    'output_error': ('start', 2),      # output apical input beta*(target[n] - r^n) (MSE) or
                                       # beta*(target[n] - softmax(r^n)) (CE), from the old rate
    'basal': ('before_groups', 0),     # every feed-forward sum W r_pre^n (old weights, old rates)
    'rate_link': ('before_groups', 0),  # microcircuit: r_prime and I_apical (stored) -> error neurons
    'error_dendrites': ('groups', -2),  # microcircuit: the error neurons' err from v, r_prime, I_apical
    'error_link': ('groups', -1),      # microcircuit: err -> the representation neurons' apical compartment
    'dendrites': ('groups', 0),        # per layer: err from v, r_prime, I_apical; u_breve from old u
    'soma': ('groups', 1),             # Euler update of u (and v)
    'apical': ('after_groups', 0),     # every feedback sum W^T err (new errors, old weights)
    'gradient': ('after_groups', 0),   # drives of the shared parameters summed over the batch copies; the
                                       # dense weight drive err^T r (new errors, old rates)
    'plasticity': ('after_groups', 1),  # optimiser steps on w (err_post, old r_pre), b and tau_m (this
                                        # step's err and du/dt): new values are used from the next step on
    'apical_sum': ('after_groups', 2),  # the feedback of the projections leaving a population, summed
    'rate': ('end', 0),                # r = phi(u_breve), r_prime = phi'(u_breve); the NaN watch on u, r, err
    'record': ('end', 10),             # monitors see the state stored after the step
}


def schedule(obj, operation):
    """Put the Brian2 object ``obj`` into the slot of ``operation`` (a key of :data:`SCHEDULE`) and name its
    operation (``obj._gle_operation``, read by :mod:`gle_brian.gates`); returns it."""
    obj.when, obj.order = SCHEDULE[operation]
    obj._gle_operation = operation
    return obj
