"""Sparse projections as compressed-row (CSR) products inside Brian2's generated code.

A projection made with ``connect`` (a condition, ``dict(p=0.1)``, index arrays) has one weight per synapse. Its
synapses ``s`` are ordered by the postsynaptic neuron, then the presynaptic one (the order of
``GLEProjection.connectivity``): the compressed-row (CSR) order of ``W`` (``n_post x n_pre``). The weights (and the
optimiser state) are held once, in that order, in a group of one element per synapse; the row pointers and the
presynaptic indices are constant arrays of the generated code. The three sums are

* **basal** (forward): ``I_basal[c, k] = sum_{s in row k} w[s] r_pre[c, pre[s]]``, for every copy ``c`` of the batch;
* **apical** (feedback): ``I_apical[c, j] = sum_{s: pre[s] = j} w_fb[s] err_post[c, post[s]]`` (``w`` or the fixed
  random feedback weights), a scatter in CSR order;
* **gradient**: ``g[s] = sum_c err_post[c, post[s]] r_pre[c, pre[s]]``, the drive of each synapse summed over the
  batch (the optimiser step uses ``-g/batch``; it stays the element-wise code of :mod:`gle_brian.optimisers`).

They are Brian2 Functions computed whole, once per step, in the scalar code of the code objects Brian2 already
generates, as the dense products are (:mod:`gle_brian.products`; :mod:`gle_brian.dense` says why Functions): the
generated code assigns ``I_basal = <name>_basal(i)``, ``I_apical = <name>_apical(i)`` and
``g_w = -<name>_gradient(i)`` (in C++ standalone the product writes ``g_w`` itself). The same work is skipped: the
drive while ``plastic_w`` is 0, the feedback while the errors are all exactly zero.

Implementations: numpy (``scipy.sparse`` products and numpy indexing) and C++ (loops over the rows; the row pointers
and indices are Function namespace arrays, which ``cpp_standalone`` writes as static arrays of its project and
loads at start). In C++ the basal product and the drive share the rows among OpenMP's threads (each element is one
thread's sum, in CSR order); the feedback scatters the rows of a fixed number of chunks (:data:`CHUNKS`, chosen by
size alone) into a buffer per chunk, which are added in the order of the chunks: the results do not depend on the
number of threads. Cython and CUDA have no CSR code: on those targets (and with ``projection='synapses'``) a sparse
projection is Brian2 ``Synapses`` (:func:`supported`).

Example::

    >>> from gle_brian import GLENetwork, Layer
    >>> from brian2 import ms
    >>> net = GLENetwork(4, [Layer(3, 'tanh', tau_m=1*ms)], dt=0.01*ms, device='numpy', connect=['i != j'])
    >>> net.projections[0].kind, len(net.weight_groups[0])
    ('csr', 9)
"""
import numpy as np
import scipy.sparse
from brian2 import prefs
from brian2.devices import get_device
from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

from .errors import GLEConfigError
from .groups import on_gpu
from .products import ProjectionProducts

__all__ = ['SparseProjection', 'supported', 'CHUNKS']

#: the C++ feedback scatters its rows in this many chunks (each into a buffer of its own, added in order) from
#: :data:`CHUNK_SYNAPSES` synapses times copies on (one chunk below), whatever the number of threads
CHUNKS = 8
CHUNK_SYNAPSES = 2 ** 15


def supported():
    """Whether sparse projections are CSR products on Brian2's current device and target: ``cpp_standalone`` and
    the numpy target (elsewhere they are Brian2 Synapses)."""
    device = get_device()
    if on_gpu():
        return False
    if isinstance(device, CPPStandaloneDevice):
        return True
    return prefs.codegen.target == 'numpy'


class SparseProjection(ProjectionProducts):
    """The basal, apical and gradient products of the sparse projection ``pre -> post`` in CSR order.

    Parameters
    ----------
    name : str
        Prefix of the function names (unique in the network), e.g. ``'projection_1'``.
    weights : NeuronGroup
        One element per synapse, in the order of ``synapses``, holding ``w`` (and ``w_feedback``).
    pre, post : NeuronGroup
        ``batch*n_pre`` and ``batch*n_post`` neurons (copy ``c`` first, then the neuron).
    batch : int
        Number of copies.
    synapses : (pre, post) index arrays
        The synapses of one copy, ordered by post, then pre (CSR order), one per pair.
    feedback : str
        The variable of ``weights`` that carries errors down: ``'w'`` or ``'w_feedback'``.
    """

    targets = ('numpy', 'cpp')

    def __init__(self, name, weights, pre, post, batch, synapses, feedback='w'):
        super().__init__(name, weights, pre, post, batch, feedback)
        presynaptic, postsynaptic = (np.asarray(index, dtype=np.int64) for index in synapses)
        keys = postsynaptic * self.n_pre + presynaptic
        if len(weights) != len(keys) or len(keys) == 0 or np.any(np.diff(keys) <= 0) \
                or keys.min() < 0 or keys.max() >= self.n_pre * self.n_post:
            raise GLEConfigError(f'{name}: {len(weights)} weights for {len(keys)} synapses of {self.n_post} x '
                                 f'{self.n_pre} neurons; give distinct synapses ordered by post, then pre.')
        self.n_synapses = len(keys)
        self.indptr = np.searchsorted(postsynaptic, np.arange(self.n_post + 1)).astype(np.int32)
        self.indices = presynaptic.astype(np.int32)
        self.posts = postsynaptic
        chunks = CHUNKS if self.n_synapses * batch >= CHUNK_SYNAPSES else 1
        # first row of each chunk (about equal numbers of synapses), and the end
        rows = np.searchsorted(self.indptr, np.linspace(0, self.n_synapses, chunks + 1)[:-1], side='right') - 1
        self.chunk_rows = np.unique(np.append(np.clip(rows, 0, self.n_post), self.n_post))
        self.chunk_rows[0] = 0
        self._make_functions()

    def _buffer_size(self, product):
        return {'basal': self.batch * self.n_post, 'apical': self.batch * self.n_pre,
                'gradient': self.n_synapses}[product]

    # --- numpy -------------------------------------------------------------------------------------

    def _matrix(self, key):
        """``W`` (``key='w'``) or the feedback matrix as a CSR matrix on the current values (no copy)."""
        return scipy.sparse.csr_matrix((self.arrays[key].get_value(), self.indices, self.indptr),
                                       shape=(self.n_post, self.n_pre), copy=False)

    def _numpy(self, kind):
        """A numpy function of the index array ``i`` (Brian2's numpy target calls it once per step)."""
        B, n_pre, n_post, arrays = self.batch, self.n_pre, self.n_post, self.arrays

        def basal(i):
            r = arrays['r'].get_value().reshape(B, n_pre)
            return np.ascontiguousarray((self._matrix('w') @ r.T).T).ravel()[i]

        def apical(i):
            e = arrays['err'].get_value().reshape(B, n_post)
            if not e.any():
                return np.zeros(len(i))
            return np.ascontiguousarray((self._matrix('feedback').T @ e.T).T).ravel()[i]

        def gradient(i):
            if not arrays['plastic'].get_value()[0]:
                return np.zeros(len(i))
            e, r = arrays['err'].get_value().reshape(B, n_post), arrays['r'].get_value().reshape(B, n_pre)
            return (e[:, self.posts] * r[:, self.indices]).sum(axis=0)[i]

        return {'basal': basal, 'apical': apical, 'gradient': gradient}.get(kind, self._numpy_product)

    # --- C++ ---------------------------------------------------------------------------------------

    def _cpp_namespace(self, kind):
        """The row pointers and presynaptic indices, read by the products (``_namespace_<name>_indptr``, ...)."""
        if not kind.endswith('_product'):
            return None
        return {f'_{self.name}_indptr': self.indptr, f'_{self.name}_indices': self.indices}

    def _cpp(self, kind):
        B, n_pre, n_post, t = self.batch, self.n_pre, self.n_post, self.c_type
        product = kind.replace('_product', '')
        if kind == product:       # Brian2's loop: element i of the product
            return self._cpp_element(kind)
        a, name = self._cpp_arrays(), f'{self.name}_{kind}'
        (buffer, sign), zero = self._result(product), f'{self.name}_{product}_zero'
        head = f'''{self._storage(product)}
static double {name}(const double t)
{{{self._skip(product)}
    if ({zero})
        return 0;
    const int32_t* __restrict indptr = _namespace_{self.name}_indptr;
    const int32_t* __restrict indices = _namespace_{self.name}_indices;'''
        if product == 'basal':    # row k of W times the rates of copy c, for every copy
            return head + f'''
    const {t}* __restrict w = {a['w']};
    #pragma omp parallel for schedule(static)
    for (int k = 0; k < {n_post}; k++)
    {{
        const int first = indptr[k], last = indptr[k + 1];
        for (int c = 0; c < {B}; c++)
        {{
            const {t}* __restrict r = {a['r']} + c*{n_pre};
            {t} sum = 0;
            for (int s = first; s < last; s++)
                sum += w[s]*r[indices[s]];
            {buffer}[c*{n_post} + k] = sum;
        }}
    }}
    return 0;
}}
'''
        if product == 'gradient':     # the drive of each synapse summed over the copies (g_w: negated)
            return head + f'''
    const {t}* __restrict err = {a['err']};
    const {t}* __restrict r = {a['r']};
    #pragma omp parallel for schedule(static)
    for (int k = 0; k < {n_post}; k++)
        for (int s = indptr[k]; s < indptr[k + 1]; s++)
        {{
            const int j = indices[s];
            {t} sum = 0;
            for (int c = 0; c < {B}; c++)
                sum += err[c*{n_post} + k]*r[c*{n_pre} + j];
            {buffer}[s] = {sign}sum;
        }}
    return 0;
}}
'''
        # the feedback: the rows of each chunk scattered into the chunk's buffer, the buffers added in order
        chunks, size = len(self.chunk_rows) - 1, B * n_pre
        rows = ', '.join(map(str, self.chunk_rows))
        partial = buffer if chunks == 1 else f'{name}_partial'
        declare = '' if chunks == 1 else f'\nstatic {t} {partial}[{chunks * size}];'
        add = '' if chunks == 1 else f'''
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < {size}; m++)
    {{
        {t} sum = {partial}[m];
        for (int q = 1; q < {chunks}; q++)
            sum += {partial}[q*{size} + m];
        {buffer}[m] = sum;
    }}'''
        return f'''
static const int {name}_rows[{chunks + 1}] = {{{rows}}};{declare}''' + head + f'''
    const {t}* __restrict feedback = {a['feedback']};
    const {t}* __restrict err = {a['err']};
    #pragma omp parallel for schedule(static)
    for (int q = 0; q < {chunks}; q++)
    {{
        {t}* __restrict out = {partial} + q*{size};
        for (int m = 0; m < {size}; m++)
            out[m] = 0;
        for (int k = {name}_rows[q]; k < {name}_rows[q + 1]; k++)
        {{
            const int first = indptr[k], last = indptr[k + 1];
            for (int c = 0; c < {B}; c++)
            {{
                const {t} e = err[c*{n_post} + k];
                {t}* __restrict o = out + c*{n_pre};
                for (int s = first; s < last; s++)
                    o[indices[s]] += e*feedback[s];
            }}
        }}
    }}{add}
    return 0;
}}
'''
