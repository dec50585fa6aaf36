"""Synapses of a GLE network, as Brian2 equations.

One :class:`brian2.Synapses` object per projection carries both directions, so a symmetric weight is
held once and there is no copy to keep in sync:

* feed-forward: ``I_basal_post = w*r_pre`` (onto the basal dendrite of the layer above);
* feedback: ``I_apical_pre = w*err_post`` (onto the apical dendrite of the layer below), or with a fixed
  random matrix ``w_feedback`` instead of ``w`` (feedback alignment).

Example::

    >>> print(projection_equations(feedback='random'))             # doctest: +SKIP
"""
from .errors import GLEConfigError

__all__ = ['FEEDBACK_MODES', 'projection_equations']

FORWARD = '''
w : 1                                              # synaptic weight W[post, pre]
I_basal_post = w*r_pre : 1 (summed)                # feed-forward drive onto the basal dendrite
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


def projection_equations(feedback='symmetric', sends_errors=True):
    """Model equations of a projection; ``sends_errors=False`` for the one leaving the input layer."""
    if feedback not in FEEDBACK:
        raise GLEConfigError(f'feedback={feedback!r} is not known; use one of {list(FEEDBACK_MODES)}.')
    return FORWARD + (FEEDBACK[feedback] if sends_errors else '')
