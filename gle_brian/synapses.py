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

__all__ = ['FEEDBACK_MODES', 'projection_equations', 'all_to_all', 'copies_of', 'connectivity', 'plasticity_equations',
           'plasticity_code', 'SIGN_CLIPS', 'WEIGHTS', 'FEEDBACK_WEIGHTS', 'WEIGHT_GRADIENT', 'BATCH_GRADIENT']

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


def projection_equations(feedback='symmetric', sends_errors=True, shared_weights=False, basal='I_basal',
                         apical='I_apical'):
    """Model equations of a projection; ``sends_errors=False`` for one leaving the input.

    ``shared_weights=True`` (batches, sparse connectivity): ``w`` is linked to a group holding the weights once.
    ``basal`` and ``apical``: the variables the two sums go into (``I_basal_<k>`` where several projections
    converge on a population, and ``I_apical_<k>`` where several leave it; the neurons then add them up).
    """
    if feedback not in FEEDBACK:
        raise GLEConfigError(f'feedback={feedback!r} is not known; use one of {list(FEEDBACK_MODES)}.')
    sums = FORWARD + (FEEDBACK[feedback] if sends_errors else '')
    sums = sums.replace('I_basal_post', f'{basal}_post').replace('I_apical_pre', f'{apical}_pre')
    return WEIGHT[shared_weights] + sums


# Weight plasticity: the postsynaptic prospective error times the presynaptic rate (docs/model.rst, section
# 'Plasticity').
WEIGHT_GRADIENT = '-err_post*r_pre'


def plasticity_equations(optimiser, summed=False, shared_counters=True):
    """Equations of the learning state of ``w`` (flag, learning rate, optimiser state), per synapse or per
    element of a weight group; ``summed=True`` adds the drive ``g_w`` that synapses sum over a batch.
    ``shared_counters``: see :meth:`Optimiser.equations <gle_brian.optimisers.Optimiser.equations>`."""
    return ('g_w : 1\n' if summed else '') + optimiser.equations('w', shared_counters)


#: the step that keeps a sign-constrained weight on its side of zero (Dale's law), by the sign
SIGN_CLIPS = {None: 'p = p - plastic*delta', +1: 'p = clip(p - plastic*delta, 0, inf)',
              -1: 'p = clip(p - plastic*delta, -inf, 0)'}


def plasticity_code(optimiser, gradient=WEIGHT_GRADIENT, sign=None):
    """Code run once per step after the errors are known: an optimiser step on ``w`` with the expression
    ``gradient`` (per synapse ``-err_post*r_pre``; for a batch the mean over its copies); ``sign`` ``+1`` or
    ``-1`` clips the new weight to ``>= 0`` or ``<= 0``."""
    return optimiser.code('w', gradient, apply=SIGN_CLIPS[sign])


def connectivity(n_pre, n_post, connect, seed=None):
    """The synapses ``(pre, post)`` (index arrays, row-major order) that Brian2's ``Synapses.connect`` creates
    from ``connect``: a condition string in ``i`` (pre) and ``j`` (post), e.g. ``'abs(i - j) < 3'``, or a dict
    of its keyword arguments (``condition``, ``p``, ``n``, ``i``, ``j``, ...). Random connections use
    ``seed`` (numpy's global generator is left as it was). Evaluated once, on Brian2's numpy target, so that
    every device builds the same synapses and the weights can be set per synapse before the first run.

    Example::

        >>> pre, post = connectivity(4, 4, 'abs(i - j) == 1')
        >>> list(zip(pre.tolist(), post.tolist()))
        [(1, 0), (0, 1), (2, 1), (1, 2), (3, 2), (2, 3)]
    """
    from brian2 import NeuronGroup, Synapses, prefs, seed as brian_seed, set_device
    from brian2.devices.device import reset_device
    arguments = {'condition': connect} if isinstance(connect, str) else dict(connect)
    target, state = prefs.codegen.target, np.random.get_state()
    set_device('runtime')
    prefs.codegen.target = 'numpy'
    try:
        brian_seed(seed)
        groups = NeuronGroup(n_pre, ''), NeuronGroup(n_post, '')
        synapses = Synapses(*groups)
        for obj in (synapses, *groups):   # used here, never run: Brian2 would warn of objects left out of a network
            obj._network = 'gle_brian.synapses.connectivity'
        synapses.connect(**arguments)
        pre, post = np.array(synapses.i[:]), np.array(synapses.j[:])
    finally:
        np.random.set_state(state)
        prefs.codegen.target = target
        reset_device()          # the device (and its build options) active before
    order = np.lexsort((pre, post))
    return pre[order], post[order]


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
    return copies_of(np.concatenate(pre_parts), np.concatenate(post_parts), n_pre, n_post, copies)


def copies_of(pre, post, n_pre, n_post, copies=1):
    """``(i, j, k)`` of ``copies`` copies of the synapses ``pre -> post`` (neuron indices of one copy): the pre- and
    postsynaptic neuron of every synapse (copy ``c`` uses neurons ``c*n_pre ...`` and ``c*n_post ...``) and the
    row-major index ``k = post*n_pre + pre`` of its weight in ``W`` (``n_post x n_pre``)."""
    copy = np.repeat(np.arange(copies), len(pre))
    return (copy * n_pre + np.tile(pre, copies), copy * n_post + np.tile(post, copies),
            np.tile(post * n_pre + pre, copies))
