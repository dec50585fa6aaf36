"""Synapses of a GLE network, as Brian2 equations.

A projection's weights ``w`` (``WEIGHTS``), its optimiser step and its three sums, written per synapse.
All-to-all projections compute the sums as dense products (:mod:`gle_brian.dense`, the default), with
the weights in a group of ``n_post*n_pre`` elements; ``projection='synapses'`` computes them with one
:class:`brian2.Synapses` object per projection that carries both directions, so a symmetric weight is
held once and there is no copy to keep in sync:

* feed-forward: ``I_basal_post = w*r_pre`` (onto the basal dendrite of the layer above);
* plasticity (optional): ``dw/dt ~ err_post*r_pre``, an optimiser step on the gradient ``-err_post*r_pre``
  (the reference's ``W.grad = -e r^T``), once per step after the errors of the step are known;
* feedback: ``I_apical_pre = w*err_post`` (onto the apical dendrite of the layer below), or with a fixed
  random matrix ``w_feedback`` instead of ``w`` (feedback alignment).

Example::

    >>> print(projection_equations(feedback='random'))             # doctest: +SKIP
"""
import numpy as np

from .errors import GLEConfigError

__all__ = ['FEEDBACK_MODES', 'projection_equations', 'all_to_all', 'plasticity_equations', 'plasticity_code',
           'WEIGHTS', 'FEEDBACK_WEIGHTS', 'WEIGHT_GRADIENT', 'BATCH_GRADIENT']

WEIGHT = {False: '''
w : 1                                              # synaptic weight W[post, pre]
''', True: '''
w : 1 (linked)                                     # W[post, pre], held once for a batch (WEIGHTS group)
weight_index : integer (constant)                  # its index post*n_pre + pre in that group
'''}

FORWARD = '''
I_basal_post = w*r_pre : 1 (summed)                # feed-forward drive onto the basal dendrite
'''

# A batch of B copies of a network shares its weights: a group of n_post*n_pre elements holds them once,
# and synapses from the B copies of the presynaptic layer sum the drive err_post*r_pre over the batch.
WEIGHTS = '''
w : 1                                              # weight W[post, pre], one per element
'''
FEEDBACK_WEIGHTS = '''
w_feedback : 1 (constant)                          # fixed random feedback weight (feedback alignment)
'''
BATCH_GRADIENT = '''
g_w_post = -err_post_copy*r_pre : 1 (summed)       # sum over the batch of -err_post*r_pre
err_post_copy : 1 (linked)                         # err of the postsynaptic neuron of the same copy
err_index : integer (constant)
'''

FEEDBACK = {
    'symmetric': '''
I_apical_pre = w*err_post : 1 (summed)             # error sent down through the same weight
''',
    'random': FEEDBACK_WEIGHTS + '''
I_apical_pre = w_feedback*err_post : 1 (summed)
''',
}

FEEDBACK_MODES = tuple(FEEDBACK)


def projection_equations(feedback='symmetric', sends_errors=True, shared_weights=False):
    """Model equations of a projection; ``sends_errors=False`` for the one leaving the input layer.

    ``shared_weights=True`` (batches): ``w`` is linked to a group holding the weights once.
    """
    if feedback not in FEEDBACK:
        raise GLEConfigError(f'feedback={feedback!r} is not known; use one of {list(FEEDBACK_MODES)}.')
    return WEIGHT[shared_weights] + FORWARD + (FEEDBACK[feedback] if sends_errors else '')


# Weight plasticity: the postsynaptic prospective error times the presynaptic rate (docs/model.rst, section
# 'Plasticity').
WEIGHT_GRADIENT = '-err_post*r_pre'


def plasticity_equations(optimiser, summed=False, shared_counters=True):
    """Equations of the learning state of ``w`` (flag, learning rate, optimiser state), per synapse or per
    element of a weight group; ``summed=True`` adds the drive ``g_w`` that synapses sum over a batch.
    ``shared_counters``: see :meth:`Optimiser.equations <gle_brian.optimisers.Optimiser.equations>`."""
    return ('g_w : 1\n' if summed else '') + optimiser.equations('w', shared_counters)


def plasticity_code(optimiser, gradient=WEIGHT_GRADIENT):
    """Code run once per step after the errors are known: an optimiser step on ``w`` with the expression
    ``gradient`` (per synapse ``-err_post*r_pre``; for a batch the mean over its copies)."""
    return optimiser.code('w', gradient)


def all_to_all(n_pre, n_post, copies=1, tile=32):
    """Indices of ``copies`` independent all-to-all projections ``n_pre -> n_post``, in tiled diagonal order.

    Returns ``(i, j, k)``: the pre- and postsynaptic neuron of every synapse (copy ``c`` uses neurons
    ``c*n_pre ...`` and ``c*n_post ...``) and the row-major index ``k = post*n_pre + pre`` of its weight in
    ``W`` (``n_post x n_pre``). Inside each ``tile x tile`` block the synapses walk diagonals, so that
    consecutive synapses have different pre- and postsynaptic neurons: the summed-variable loops (onto
    the basal dendrites above and the apical dendrites below) then never add twice in a row into the
    same neuron, which roughly halves their run time on CPUs.

    Example::

        >>> i, j, k = all_to_all(2, 2)
        >>> list(zip(i.tolist(), j.tolist()))
        [(0, 0), (1, 1), (0, 1), (1, 0)]
    """
    pre_parts, post_parts = [], []
    for post0 in range(0, n_post, tile):
        for pre0 in range(0, n_pre, tile):
            n_i, n_j = min(tile, n_pre - pre0), min(tile, n_post - post0)
            m = max(n_i, n_j)
            pre = np.tile(np.arange(m), m)
            post = (pre + np.repeat(np.arange(m), m)) % m
            keep = (pre < n_i) & (post < n_j)
            pre_parts.append(pre0 + pre[keep])
            post_parts.append(post0 + post[keep])
    pre, post = np.concatenate(pre_parts), np.concatenate(post_parts)
    copy = np.repeat(np.arange(copies), len(pre))
    return copy * n_pre + np.tile(pre, copies), copy * n_post + np.tile(post, copies), np.tile(post * n_pre + pre, copies)
