"""GLE projections as a Brian2 object: weights, the basal and apical sums, feedback, sign and plasticity.

A :class:`GLEProjection` connects any Brian2 group with a rate variable ``r`` (a user's own
``NeuronGroup``, a :class:`~gle_brian.groups.GLEGroup`) to a ``GLEGroup``. It computes

* the **basal** input ``W r_pre`` of the postsynaptic group (before its dendrites read it);
* the **apical** input ``W^T err_post`` (or through a fixed random matrix: feedback alignment) of a
  presynaptic ``GLEGroup``, from the errors of this step, for the next step;
* with ``learning``, an optimiser step on ``W`` with the gradient ``-err_post r_pre`` (a batch mean).

All-to-all projections are dense products inside Brian2's generated code (:mod:`gle_brian.dense`); a
projection with ``connect`` has the synapses of that connect rule (weights per synapse), computed as
compressed-row (CSR) products inside the generated code on the numpy and ``cpp_standalone`` targets
(:mod:`gle_brian.sparse`), as a Brian2 :class:`~brian2.Synapses` elsewhere and with ``synapses=True``. Every
operation sits in its slot of :data:`~gle_brian.schedule.SCHEDULE`. The projection's Brian2 objects
are its ``contained_objects``, so ``run()`` and ``Network(collect())`` collect them with it.

Example::

    >>> from brian2 import ms, NeuronGroup
    >>> from gle_brian import GLEGroup
    >>> source = NeuronGroup(2, 'r : 1', dt=0.01*ms)
    >>> hidden = GLEGroup(3, 'tanh', tau_m=1*ms, tau_r=0.1*ms, dt=0.01*ms)
    >>> projection = GLEProjection(source, hidden, weights=[[1, 0], [0, 1], [1, 1]])
    >>> projection.W.shape
    (3, 2)
"""
import numpy as np
from brian2 import NeuronGroup, Synapses, linked_var
from brian2.core.base import BrianObject
from brian2.groups.group import CodeRunner
from brian2.utils.logger import get_logger

from . import synapses as synaptic
from . import sparse
from .dense import DenseProjection
from .checks import check_matrix, connections, constrain_weights
from .errors import GLEConfigError
from .groups import GLEGroup, on_gpu, register_synapses
from .optimisers import Learning
from .schedule import schedule
from .synapses import FEEDBACK_MODES, projection_equations

__all__ = ['GLEProjection', 'draw_weights', 'init_weights']

logger = get_logger(f'brian2.{__name__}')   # Brian2's handlers show and file it


def draw_weights(shapes, connectivity, seed=None, block=2 ** 20):
    """``U(-1/sqrt(n_pre), 1/sqrt(n_pre))`` initial weights (PyTorch's ``nn.Linear``) of projections of the
    ``(n_post, n_pre)`` ``shapes``, one after the other with one generator (``seed``): a matrix for an all-to-all
    projection (``connectivity`` entry ``None``), the values at the synapses ``(pre, post)`` (ordered by post,
    then pre) for the others: the same numbers, drawn a block of rows (about ``block`` numbers) at a time, so that
    no ``n_post x n_pre`` matrix is held.

    Example::

        >>> [w.shape for w in draw_weights([(3, 2), (1, 3)], [None, None], seed=0)]
        [(3, 2), (1, 3)]
    """
    rng = np.random.default_rng(seed)
    drawn = []
    for (n_post, n_pre), synapses_ in zip(shapes, connectivity):
        if synapses_ is None:
            drawn.append(rng.uniform(-1, 1, (n_post, n_pre)) / np.sqrt(n_pre))
            continue
        pre, post = synapses_
        values, rows = np.empty(len(pre)), max(1, block // n_pre)
        for start in range(0, n_post, rows):
            drawn_rows = rng.uniform(-1, 1, (min(rows, n_post - start), n_pre))
            at = slice(*np.searchsorted(post, [start, start + rows]))
            values[at] = drawn_rows[post[at] - start, pre[at]] / np.sqrt(n_pre)
        drawn.append(values)
    return drawn


def init_weights(sizes, seed=None):
    """PyTorch's default ``nn.Linear`` init: ``W_l ~ U(-1/sqrt(n_{l-1}), 1/sqrt(n_{l-1}))``.

    ``sizes`` is ``[n_in, n_1, ..., n_L]``; returns a list of arrays of shape ``(n_l, n_{l-1})``.
    """
    shapes = list(zip(sizes[1:], sizes[:-1]))
    return draw_weights(shapes, [None] * len(shapes), seed)


def _positions(k, n_post, n_pre):
    """Where ``W[post, pre]`` sits in an array ordered by the row-major indices ``k`` (inverse permutation)."""
    positions = np.empty(n_post * n_pre, dtype=int)
    positions[k] = np.arange(len(k))
    return positions.reshape(n_post, n_pre)


def _seed(seed, offset):
    """The seed of one draw: ``seed + offset`` (weights 0, feedback 1, connections 2), or without a ``seed`` one
    taken from numpy's global generator (which Brian2's ``seed()`` sets on runtime targets)."""
    return int(np.random.randint(2 ** 31 - 1)) if seed is None else seed + offset


class GLEProjection(BrianObject):
    """A projection ``pre -> post`` of a GLE network.

    Parameters
    ----------
    pre : Group
        Any Brian2 group with a rate ``r`` (a state variable; ``batch*n_pre`` neurons). When it is a
        :class:`~gle_brian.groups.GLEGroup`, the errors of ``post`` are sent back into its apical dendrites.
    post : GLEGroup
        The population whose basal dendrites receive ``W r_pre``.
    weights : array or None
        Initial ``W``, shape ``(n_post, n_pre)`` (for a projection with ``connect`` also the values at its
        synapses, in the order of ``connectivity``); ``None``: drawn ``U(-1/sqrt(n_pre), 1/sqrt(n_pre))`` from
        ``seed`` (or numpy's global generator).
    connect : None, str, dict or (pre, post) arrays
        ``None``: all-to-all, as dense products; otherwise Brian2 Synapses made with a condition such as
        ``'abs(i - j) < 3'``, a dict of ``Synapses.connect`` arguments such as ``dict(p=0.1)``, or the index arrays
        of the synapses (one synapse per pair: a repeated pair is refused).
    feedback : 'symmetric' or 'random'
        Errors go down through ``W`` itself, or through a fixed random matrix (``feedback_weights``, or drawn
        like the weights).
    sign : None, +1 or -1
        Dale's law: the weights stay ``>= 0`` (excitatory) or ``<= 0`` (inhibitory).
    learning : Learning or None
        Plasticity of ``W`` (when ``learning.weights``): an optimiser step every step, with learning rate
        ``lr_w`` and the switch ``plastic_w`` of ``weight_group``; ``None``: fixed weights.
    synapses : bool
        Compute the projection with Brian2 Synapses (summed variables) instead of dense or CSR products (a
        cross-check).
    seed : int or None
        Seed of the drawn weights (``seed``), feedback weights (``seed + 1``) and connections (``seed + 2``);
        ``None``: seeds drawn from numpy's global generator, which Brian2's ``seed()`` sets on runtime targets
        (on standalone targets it seeds the generated code only: seed numpy too, ``np.random.seed(...)``).
    name : str
        The Brian2 name; it names the projection's objects and functions.

    Attributes: ``kind`` (``'dense'``, ``'csr'`` or ``'synapses'``: how its sums are computed), ``weight_group``
    (the object holding ``w``), ``positions`` (where ``W[post, pre]`` sits in
    ``weight_group.w``), ``connectivity`` (``None`` or the synapses' ``(pre, post)`` indices), ``W`` (the
    current matrix), ``shape`` ``(n_post, n_pre)``.
    """

    add_to_magic_network = True

    def __init__(self, pre, post, weights=None, connect=None, feedback='symmetric', feedback_weights=None,
                 sign=None, learning=None, synapses=False, seed=None, name='gleprojection*'):
        if not isinstance(post, GLEGroup):
            raise GLEConfigError(f'post={post!r}: a projection ends on a GLEGroup (its basal dendrites).')
        if 'r' not in pre.variables or not hasattr(pre.variables['r'], 'get_value'):
            raise GLEConfigError(f'pre={pre.name}: the presynaptic group needs a rate variable r stored per neuron '
                                 "(e.g. NeuronGroup(n, 'r : 1') with r set by your code, or a GLEGroup).")
        B = post.batch
        if len(pre) % B or (isinstance(pre, GLEGroup) and pre.batch != B):
            raise GLEConfigError(f'pre={pre.name} has {len(pre)} neurons, not a whole number per copy of the batch of '
                                 f'{post.name} (batch={B}); give the presynaptic group batch*n_pre neurons.')
        if feedback not in FEEDBACK_MODES:
            raise GLEConfigError(f'feedback={feedback!r} is not known; use one of {list(FEEDBACK_MODES)}.')
        if sign not in (None, 1, -1):
            raise GLEConfigError(f'sign={sign!r}: give None, +1 (weights >= 0, excitatory) or -1 (<= 0, inhibitory).')
        if learning is not None and not isinstance(learning, Learning):
            raise GLEConfigError(f'learning={learning!r}: give a Learning, e.g. learning=Learning(Adam(lr=1e-4)).')
        super().__init__(clock=post.clock, name=name)
        self.pre, self.post, self.batch, self.sign = pre, post, B, sign
        self.shape = n_post, n_pre = post.n, len(pre) // B
        self.sends_errors = isinstance(pre, GLEGroup)
        self.feedback = feedback if self.sends_errors else None
        self.connectivity = self._connect(connect, seed)
        self.dense = self.connectivity is None and not synapses
        # sparse projections: CSR products where the target has them, else Brian2 Synapses
        self.kind = 'synapses' if synapses else 'dense' if self.dense else 'csr' if sparse.supported() \
            else 'synapses'
        self.learning = learning if learning is not None and learning.weights else None
        drawn = weights is None
        values = constrain_weights(self._values(draw_weights([self.shape], [self.connectivity], _seed(seed, 0))[0]
                                                if drawn else weights, 'weights'), sign, drawn)
        self.feedback_values = None
        if self.feedback == 'random':
            self.feedback_values = self._values(
                draw_weights([self.shape], [self.connectivity], _seed(seed, 1))[0] if feedback_weights is None
                else feedback_weights, 'feedback_weights')
        self.functions = {}
        self._cuda_ready = False
        if self.kind != 'synapses':
            self._build_products(values)
        else:
            self._build_synapses(values)
        if self.learning is not None:
            group = self.weight_group
            gradient = synaptic.WEIGHT_GRADIENT if group is self.synapses else 'g_w' + f'/{B}' * (B > 1)
            schedule(group.run_regularly(synaptic.plasticity_code(self.learning.optimiser, gradient, sign),
                                         name=f'{self.name}_plasticity'), 'plasticity')
            group.plastic_w = 1
            group.lr_w = self.learning.learning_rates(1)[0]
        logger.debug(f'{self.name}: {pre.name} -> {post.name}, {n_post} x {n_pre}, '
                     + {'dense': 'dense products', 'csr': f'{len(self.weight_group)} weights, CSR products',
                        'synapses': f'{len(self.weight_group)} weights in Brian2 Synapses'}[self.kind]
                     + f', feedback {self.feedback}, sign {sign}, ' + ('plastic' if self.learning else 'fixed'))

    # --- building ------------------------------------------------------------------------------------

    def _connect(self, connect, seed):
        """``None`` (all-to-all) or the synapses' ``(pre, post)`` index arrays, ordered by post, then pre."""
        if connect is None:
            return None
        n_post, n_pre = self.shape
        if isinstance(connect, tuple) and len(connect) == 2 and not isinstance(connect[0], str):
            pre, post = (np.asarray(c, dtype=int) for c in connect)
            order = np.lexsort((pre, post))
            pre, post = pre[order], post[order]
        elif isinstance(connect, (str, dict)):
            pre, post = connections(connect, n_pre, n_post, _seed(seed, 2), 'connect',
                                    f'{self.pre.name} -> {self.post.name}')
        else:
            raise GLEConfigError(f'connect={connect!r}: give None (all-to-all), a condition string, a dict of '
                                 'Synapses.connect arguments such as dict(p=0.2), or (pre, post) index arrays.')
        if len(pre) == 0:
            raise GLEConfigError(f'connect={connect!r} ({self.pre.name} -> {self.post.name}) makes no synapses; loosen '
                                 'the condition or raise p, or leave the projection out.')
        if pre.min() < 0 or post.min() < 0 or pre.max() >= n_pre or post.max() >= n_post:
            raise GLEConfigError(f'connect: synapse indices outside the {n_pre} presynaptic and {n_post} postsynaptic '
                                 'neurons (of one batch copy); give indices in range.')
        repeated = len(pre) - len(np.unique(post * n_pre + pre))
        if repeated:
            raise GLEConfigError(f'connect={connect!r} ({self.pre.name} -> {self.post.name}) makes {repeated} repeated '
                                 '(i, j) pairs; a GLE projection has one weight per pair: drop the repeats (n=1, '
                                 'unique index pairs), or give one projection per pathway.')
        return pre, post

    def _values(self, values, name):
        """Initial values: a matrix ``(n_post, n_pre)`` (taken at the synapses when there is a ``connect``), or the
        values at the synapses; checked real and finite (:func:`gle_brian.checks.check_matrix`)."""
        return check_matrix(values, name, self.shape, self.connectivity, per_synapse=True)

    def _learning_equations(self):
        """The learning state of ``w`` in a weight group (with the drive ``g_w`` summed over the batch)."""
        if self.learning is None:
            return ''
        return synaptic.plasticity_equations(self.learning.optimiser, True, not on_gpu())

    def _build_products(self, values):
        """The weights in a group (row-major, or one per synapse in CSR order) and the products of
        :mod:`gle_brian.dense` or :mod:`gle_brian.sparse` in the generated code."""
        n_post, n_pre = self.shape
        random = self.feedback == 'random'
        holder = NeuronGroup(values.size, synaptic.WEIGHTS + synaptic.FEEDBACK_WEIGHTS * random
                             + self._learning_equations(), clock=self.clock, name=f'{self.name}_weights', namespace={})
        holder.w = values.ravel()
        if random:
            holder.w_feedback = self.feedback_values.ravel()
        feedback = 'w_feedback' if random else 'w'
        if self.dense:
            products = DenseProjection(self.name, holder, self.pre, self.post, self.batch, feedback)
            self._positions = None
        else:
            products = sparse.SparseProjection(self.name, holder, self.pre, self.post, self.batch,
                                               self.connectivity, feedback)
            self._positions = np.arange(values.size)
        self.functions = products.functions
        self.post.namespace.update(products.functions)
        self.post.add_basal_input(products.basal_input, before=products.basal_product)
        holder.namespace.update(products.functions)
        self.contained_objects.append(holder)
        if self.sends_errors:
            self.pre.namespace.update(products.functions)
            share = self.pre.add_apical_input(f'I_apical_{self.name}')
            code = products.apical_code(share)
            self.contained_objects.append(schedule(CodeRunner(self.pre, 'stateupdate', code=code, clock=self.clock,
                                                              name=f'{self.name}_apical'), 'apical'))
        if self.learning is not None:
            schedule(holder.run_regularly(products.gradient_code, name=f'{self.name}_gradient'), 'gradient')
        self.products = products
        self.dense_projection = products if self.dense else None
        self.synapses, self.weight_group = None, holder

    def _build_synapses(self, values):
        (n_post, n_pre), B = self.shape, self.batch
        # i, j: the pre- and postsynaptic neurons; m: the index of each synapse's weight among those of one copy
        # (row-major in W for all-to-all projections; the order of the synapses for sparse ones)
        if self.connectivity is not None:
            n_weights = len(self.connectivity[0])
            i, j, _ = synaptic.copies_of(*self.connectivity, n_pre, n_post, B)
            m = np.tile(np.arange(n_weights), B)
        else:
            n_weights = n_post * n_pre
            i, j, m = synaptic.all_to_all(n_pre, n_post, copies=B)
        basal = self.post.add_variable(f'I_basal_{self.name}', description='one projection\'s share of I_basal')
        self.post.add_basal_input(basal)
        apical = self.pre.add_apical_input(f'I_apical_{self.name}') if self.sends_errors else None
        shared = B > 1        # a batch: the weights held once in a group, with the drive g_w summed over the copies
        equations = projection_equations(self.feedback or 'symmetric', sends_errors=self.sends_errors,
                                         shared_weights=shared, basal=basal, apical=apical)
        if self.learning is not None and not shared:
            equations += synaptic.plasticity_equations(self.learning.optimiser, shared_counters=not on_gpu())
        projection = Synapses(self.pre, self.post, equations, clock=self.clock, name=f'{self.name}_synapses')
        projection.connect(i=i, j=j)
        self.contained_objects.append(projection)
        holder = projection
        if shared:
            holder = NeuronGroup(n_weights, synaptic.WEIGHTS + self._learning_equations(), clock=self.clock,
                                 name=f'{self.name}_weights')
            projection.weight_index = m
            projection.w = linked_var(holder, 'w', index='weight_index')
            self.contained_objects.append(holder)
            if self.learning is not None:
                sums = Synapses(self.pre, holder, synaptic.BATCH_GRADIENT, clock=self.clock,
                                name=f'{self.name}_batch_sums')
                sums.connect(i=i, j=m)
                sums.err_index = j
                sums.err_post_copy = linked_var(self.post, 'err', index='err_index')
                schedule(sums.summed_updaters['g_w_post'], 'gradient')
                self.contained_objects.append(sums)
        # where each weight of one copy sits in holder.w: W[post, pre] (all-to-all), or synapse s (sparse)
        values = values.ravel()
        if self.connectivity is not None:
            self._positions = np.arange(len(values))
        else:
            self._positions = None if shared else _positions(m, n_post, n_pre)
        holder.w = values if shared else values[m]
        schedule(projection.summed_updaters[f'{basal}_post'], 'basal')
        if self.sends_errors:
            schedule(projection.summed_updaters[f'{apical}_pre'], 'apical')
            if self.feedback == 'random':
                projection.w_feedback = self.feedback_values.ravel()[m]
        self.synapses, self.weight_group = projection, holder

    def before_run(self, run_namespace):
        if self.dense and on_gpu() and not self._cuda_ready:
            self.dense_projection.cuda_setup()
            self._cuda_ready = True
        register_synapses(self)
        super().before_run(run_namespace)

    # --- reading ---------------------------------------------------------------------------------------

    @property
    def positions(self):
        """Where each ``W[post, pre]`` sits in ``weight_group.w``: an ``(n_post, n_pre)`` array of indices (all-to-all;
        row-major ``W`` is made when asked for, since it is as large as the weights), or one per synapse (sparse)."""
        return np.arange(self.shape[0] * self.shape[1]).reshape(self.shape) if self._positions is None \
            else self._positions

    def matrix(self, values):
        """The ``(n_post, n_pre)`` matrix from values ordered as ``weight_group.w`` is (zero without a synapse)."""
        values = np.asarray(values)
        values = values.reshape(self.shape).copy() if self._positions is None else values[self._positions]
        if self.connectivity is None:
            return values
        pre, post = self.connectivity
        matrix = np.zeros(self.shape)
        matrix[post, pre] = values
        return matrix

    @property
    def W(self):
        """The current weight matrix ``(n_post, n_pre)`` (a copy; zero where there is no synapse)."""
        return self.matrix(self.weight_group.w[:])

    def learn(self, on=True):
        """Switch the plasticity of ``W`` on or off (takes effect in the next run)."""
        if self.learning is not None:
            self.weight_group.plastic_w = float(on)
