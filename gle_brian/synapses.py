"""Synapses of a GLE network, as Brian2 equations.

One :class:`brian2.Synapses` object per projection carries both directions, so a symmetric weight is
held once and there is no copy to keep in sync:

* feed-forward: ``I_basal_post = w*r_pre`` (onto the basal dendrite of the layer above);
* plasticity (optional): ``dw/dt ~ err_post*r_pre``, an optimiser step on the gradient ``-err_post*r_pre``
  (the reference's ``W.grad = -e r^T``), once per step after the errors of the step are known;
* feedback: ``I_apical_pre = w*err_post`` (onto the apical dendrite of the layer below), or with a fixed
  random matrix ``w_feedback`` instead of ``w`` (feedback alignment).

Example::

    >>> print(projection_equations(feedback='random'))             # doctest: +SKIP
"""
from .errors import GLEConfigError

__all__ = ['FEEDBACK_MODES', 'projection_equations', 'plasticity_equations', 'plasticity_code',
           'WEIGHTS', 'BATCH_GRADIENT']

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
BATCH_GRADIENT = '''
g_w_post = -err_post_copy*r_pre : 1 (summed)       # sum over the batch of -err_post*r_pre
err_post_copy : 1 (linked)                         # err of the postsynaptic neuron of the same copy
err_index : integer (constant)
'''

FEEDBACK = {
    'symmetric': '''
I_apical_pre = w*err_post : 1 (summed)             # error sent down through the same weight
''',
    'random': '''
w_feedback : 1 (constant)                          # fixed random feedback weight (feedback alignment)
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


# Weight plasticity (GLE_MODEL.md 1.2): the postsynaptic prospective error times the presynaptic rate.
WEIGHT_GRADIENT = '-err_post*r_pre'


def plasticity_equations(optimiser, batch=1):
    """Equations of the learning state of ``w`` (flag, learning rate, optimiser state), per synapse or,
    with ``batch > 1``, per element of the weight group (with the summed drive ``g_w``)."""
    return ('g_w : 1\n' if batch > 1 else '') + optimiser.equations('w')


def plasticity_code(optimiser, batch=1):
    """Code run once per step after the errors are known: an optimiser step on ``w`` (batch mean)."""
    return optimiser.code('w', WEIGHT_GRADIENT if batch == 1 else f'g_w/{batch}')
