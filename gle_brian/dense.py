"""All-to-all projections as dense products inside Brian2's generated code.

Brian2 sums a ``(summed)`` synaptic variable one synapse at a time, through index arrays, and a batch
of copies multiplies every synapse. A projection in which every presynaptic neuron reaches every
postsynaptic one is a matrix ``W`` (``n_post x n_pre``): its three sums are dense products,

* **basal** (forward): ``I_basal[c, k] = sum_j W[k, j] r_pre[c, j]``, for every copy ``c`` of the batch;
* **apical** (feedback): ``I_apical[c, j] = sum_k W[k, j] err_post[c, k]`` (``W`` or the fixed random
  feedback matrix);
* **gradient**: ``G[k, j] = sum_c err_post[c, k] r_pre[c, j]``, the weight drive summed over the batch
  (the optimiser step uses ``-G/batch``, the batch mean of ``-err_post r_pre``).

Each is a Brian2 :class:`~brian2.Function` of the neuron (or weight) index ``i`` with an implementation
per target: numpy (``matmul``), cython and C++ (contiguous loops over rows of ``W``, which the compiler
vectorises), and CUDA (a device function: each thread of Brian2's kernel computes its own element). The
weights are held once, row-major, in a group of ``n_post*n_pre`` elements that also holds
the optimiser state, so the optimiser step stays the generated element-wise code of
:mod:`gle_brian.optimisers`. Brian2 writes the results: the network's generated code assigns
``I_basal = <name>_basal(i)`` (with the dendrites; a sum of such terms where several projections converge),
``I_apical = <name>_apical(i)`` and
``g_w = -<name>_gradient(i)`` (read by the optimiser step), so Brian2 knows every variable that
changes (standalone runs read them back). In C++ standalone the gradient product writes ``g_w`` itself (the binary
writes every array back after its run), saving a pass over the weights
(:attr:`~gle_brian.products.ProjectionProducts.writes_drive`).

Why Functions, not a derived templater (the route of brian2cuda and brian2genn): the products need no
new kind of code object, only a few lines inside the ones Brian2 already generates and schedules
(``run_regularly``), on every target at once, and the generated code stays Brian2's own, so the schedule
that makes the network equal the reference step is untouched. A templater would be a second device to
keep up to date with each Brian2 release.

The feedback and the gradient are computed whole, once per step: the code assigns
``<name>_apical_done = <name>_apical_product(t)`` before ``I_apical = <name>_apical(i)`` (and likewise for the
gradient), and Brian2 puts the first, a function of the time alone, into the scalar code that runs before its loop
over ``i``, which then reads the rows of the product's buffer. In C++ the product accumulates each row of the buffer
in registers, 32 columns at a time (:data:`BLOCK`), the terms in a fixed order; with Brian2's OpenMP option
(``prefs.devices.cpp_standalone.openmp_threads``, which :func:`gle_brian.openmp.openmp_threads` sets for the
networks of :class:`~gle_brian.GLENetwork`) the blocks are shared among the threads, and every element is summed in
the same order by any number of threads: the results do not depend on the threads. Brian2's own loops (the
basal products among them, a row of ``W`` per element) are shared among the threads by Brian2.

The products of a batch of copies (matrix products) call OpenBLAS instead (``cblas_?gemm`` from the
``scipy-openblas64`` wheel, the build of OpenBLAS that numpy and scipy ship, linked into the standalone program):
from :data:`BLAS_BATCH` copies and :data:`BLAS_WEIGHTS` weights on, with ``prefs.gle_brian.blas = 'auto'`` (the
default) and the wheel installed (``pip install gle-brian[blas]``); ``'always'`` and ``'never'`` force the choice
(:func:`uses_blas`). OpenBLAS runs on one thread
of its own in each of the network's threads (:func:`gle_brian.openmp.openmp_threads`), which share the rows of the
result, and sums in its own order: the results equal the loops' to round-off.

Work that cannot change a result is skipped, so that evaluation (a run with learning off and no target) costs
about the forward products alone: the drive is zero while the projection's ``plastic_w`` is 0 (the optimiser step
leaves ``w`` and its state unchanged then, whatever the drive), and the feedback is not computed while the errors it
carries are all exactly zero (their product is zero). The results equal those of the full computation.

On ``cuda_standalone`` the threads of a kernel run in no order, so each computes its own sum (a row of ``W`` times
the rates, a column of ``W`` times the errors, or the batch sum of one weight's drive; the products in the scalar
code do nothing), reading the arrays through brian2cuda's ``__device__`` pointers ``brian::d_array_*``, which the
program sets after it has allocated them (:meth:`~gle_brian.products.ProjectionProducts.cuda_setup`). Not yet run
on a GPU: the CUDA code is compiled in the tests, its parity is checked by ``bench/gpu_check.sh``.

Example::

    >>> from gle_brian import GLENetwork, Layer
    >>> from brian2 import ms
    >>> net = GLENetwork(2, [Layer(3, 'tanh', tau_m=1*ms)], dt=0.01*ms, device='numpy')
    >>> net.projection
    'dense'
"""
import functools

import numpy as np
from brian2 import prefs

from . import preferences  # noqa: F401  (registers prefs.gle_brian)
from .errors import GLEConfigError
from .products import ProjectionProducts

__all__ = ['DenseProjection']

#: columns of a product that C++ accumulates in registers at once (a row of up to 32 numbers)
BLOCK = 32
#: rows of W whose products with the rates C++ computes at once (they share the loads of the rates)
ROWS = 4
#: C++ computes the products of a projection with OpenBLAS from this batch size and this number of weights on
#: (bench/RESULTS.md, section "BLAS": at batch 1 the loops are as fast, 0.9-1.1x; at batch 4 and 30 OpenBLAS takes
#: 0.53-0.83x their time from N = 100; at N = 53, batch 100 (MNIST-1D) 0.98x)
BLAS_BATCH = 2
BLAS_WEIGHTS = 10_000


@functools.cache
def blas_library():
    """The compiler settings of the ``scipy-openblas64`` wheel (include and library folders, library) and its
    symbols' prefix and suffix, or None when it is not installed."""
    try:
        import scipy_openblas64 as blas
    except ImportError:
        return None
    flags = dict(item.lstrip('-D').split('=') for item in blas.get_pkg_config().split()
                 if item.startswith('-DBLAS_SYMBOL_'))
    return {'compiler_kwds': {'headers': ['<cblas.h>'], 'include_dirs': [blas.get_include_dir()],
                              'library_dirs': [blas.get_lib_dir()], 'runtime_library_dirs': [blas.get_lib_dir()],
                              'libraries': [blas.get_library()]},
            'prefix': flags.get('BLAS_SYMBOL_PREFIX', ''), 'suffix': flags.get('BLAS_SYMBOL_SUFFIX', '')}


def uses_blas(batch, weights):
    """Whether C++ computes the products of a projection of ``weights`` weights at ``batch`` copies with OpenBLAS
    (``prefs.gle_brian.blas``; ``'auto'``: from :data:`BLAS_BATCH` copies and :data:`BLAS_WEIGHTS` weights on).

    Example::

        >>> uses_blas(batch=1, weights=1000 * 1000)        # one copy: matrix-vector products, the loops
        False
    """
    choice = prefs.gle_brian.blas
    if choice == 'never' or (choice == 'auto' and (batch < BLAS_BATCH or weights < BLAS_WEIGHTS)):
        return False
    if blas_library() is None:
        if choice == 'always':
            raise GLEConfigError("prefs.gle_brian.blas = 'always' but OpenBLAS is not installed: pip install "
                                 "scipy-openblas64 (or gle-brian[blas]), or set prefs.gle_brian.blas = 'auto'.")
        return False
    return True


class DenseProjection(ProjectionProducts):
    """The basal, apical and gradient products of the all-to-all projection ``pre -> post``
    (:class:`~gle_brian.products.ProjectionProducts`).

    The parameters are those of :class:`~gle_brian.products.ProjectionProducts`; ``weights`` has ``n_post*n_pre``
    elements, row-major: element ``k*n_pre + j`` is ``W[k, j]``.
    """

    def __init__(self, name, weights, pre, post, batch, feedback='w'):
        super().__init__(name, weights, pre, post, batch, feedback)
        if len(weights) != self.n_pre * self.n_post:
            raise GLEConfigError(f'{name}: {len(weights)} weights for {self.n_post} x {self.n_pre} neurons.')
        self.blas = uses_blas(self.batch, self.n_pre * self.n_post)
        self._make_functions()

    def _cpp_implementation(self, kind):
        if self.blas and kind.endswith('_product'):
            return self._blas, blas_library()['compiler_kwds']
        return self._cpp, None

    def _buffer_size(self, product):
        B, n_pre, n_post = self.batch, self.n_pre, self.n_post
        return {'basal': B * n_post, 'apical': B * n_pre, 'gradient': n_post * n_pre}[product]

    # --- implementations -------------------------------------------------------------------------

    def _numpy(self, kind):
        """A numpy function of the index array ``i`` (Brian2's numpy target calls it once per step)."""
        B, n_pre, n_post = self.batch, self.n_pre, self.n_post
        arrays = self.arrays

        def basal(i):
            W, r = arrays['w'].get_value().reshape(n_post, n_pre), arrays['r'].get_value().reshape(B, n_pre)
            return (r @ W.T).ravel()[i]

        def apical(i):
            W, e = arrays['feedback'].get_value().reshape(n_post, n_pre), arrays['err'].get_value().reshape(B, n_post)
            return np.zeros(len(i)) if not e.any() else (e @ W).ravel()[i]

        def gradient(i):
            if not arrays['plastic'].get_value()[0]:
                return np.zeros(len(i))
            e, r = arrays['err'].get_value().reshape(B, n_post), arrays['r'].get_value().reshape(B, n_pre)
            return (e.T @ r).ravel()[i]

        return {'basal': basal, 'apical': apical, 'gradient': gradient}.get(kind, self._numpy_product)

    def _blas(self, kind):
        """C++ of the product ``kind`` (``<product>_product``) as one ``cblas_?gemm`` call (row-major arrays)."""
        B, n_pre, n_post = self.batch, self.n_pre, self.n_post
        product, a, library = kind.replace('_product', ''), self._cpp_arrays(), blas_library()
        gemm = f"{library['prefix']}cblas_{'d' if self.c_type == 'double' else 's'}gemm{library['suffix']}"
        threads = f"{library['prefix']}openblas_set_num_threads{library['suffix']}"
        # C (M x N) = op(A) (M x K) op(B) (K x N), each with its leading dimension
        arguments = {'basal': ('CblasNoTrans', 'CblasTrans', B, n_post, n_pre, a['r'], n_pre, a['w'], n_pre, n_post),
                     'apical': ('CblasNoTrans', 'CblasNoTrans', B, n_pre, n_post, a['err'], n_post, a['feedback'],
                                n_pre, n_pre),
                     'gradient': ('CblasTrans', 'CblasNoTrans', n_post, n_pre, B, a['err'], n_post, a['r'], n_pre,
                                  n_pre)}[product]
        op_a, op_b, m, n, k, matrix_a, lda, matrix_b, ldb, ldc = arguments
        (buffer, sign), zero = self._result(product), f'{self.name}_{product}_zero'
        # OpenBLAS on one thread of its own; the rows (or, when it has more columns than rows, e.g. at batch 1, the
        # columns) of the result are shared among the network's threads (OpenMP), whose threads would otherwise
        # wait, spinning, beside OpenBLAS's
        chunks = max(1, int(prefs.devices.cpp_standalone.openmp_threads))
        if n > m:      # columns first..first+part of C: the same columns of op(B)
            shape, size = f'{m}, part', n
            pointers = (matrix_a, f'{matrix_b} + first' if op_b == 'CblasNoTrans' else f'{matrix_b} + first*{ldb}',
                        f'{buffer} + first')
        else:          # rows first..first+part of C: the same rows of op(A)
            shape, size = f'part, {n}', m
            pointers = (f'{matrix_a} + first*{lda}' if op_a == 'CblasNoTrans' else f'{matrix_a} + first', matrix_b,
                        f'{buffer} + first*{ldc}')
        return self._storage(product) + f'''
static double {self.name}_{kind}(const double t)
{{{self._skip(product)}
    if ({zero})
        return 0;
    static bool one_thread = false;
    if (!one_thread)
    {{
        {threads}(1);
        one_thread = true;
    }}
    #pragma omp parallel for schedule(static)
    for (int q = 0; q < {chunks}; q++)
    {{
        const int first = q*{size}/{chunks}, part = (q + 1)*{size}/{chunks} - first;
        if (part > 0)
            {gemm}(CblasRowMajor, {op_a}, {op_b}, {shape}, {k}, {sign}1, {pointers[0]}, {lda}, {pointers[1]}, {ldb}, 0,
                   {pointers[2]}, {ldc});
    }}
    return 0;
}}
'''

    def _cpp(self, kind):
        B, n_pre, n_post, t = self.batch, self.n_pre, self.n_post, self.c_type
        a = self._cpp_arrays()
        name = f'{self.name}_{kind}'
        product = kind.replace('_product', '')
        (buffer, sign), zero = self._result(product), f'{self.name}_{product}_zero'
        storage = self._storage(product)
        if kind == product:       # Brian2's loop: element i of the product
            return self._cpp_element(kind)
        if product == 'basal':    # W r: element (c, k) is row k of W times the rates of copy c, for ROWS rows at
            blocks, tail = -(-n_post // ROWS), n_post % ROWS or ROWS      # once (they share the loads of r)
            return storage + f'''
template <int ROWS>
static inline void {name}_block(const {t}* __restrict w, const {t}* __restrict r, {t}* __restrict out)
{{
    {t} sum[ROWS] = {{}};
    for (int j = 0; j < {n_pre}; j++)
        for (int k = 0; k < ROWS; k++)
            sum[k] += w[k*{n_pre} + j]*r[j];
    for (int k = 0; k < ROWS; k++)
        out[k] = sum[k];
}}
static double {name}(const double t)
{{{self._skip(product)}
    #pragma omp parallel for schedule(static)
    for (int q = 0; q < {B * blocks}; q++)
    {{
        const int c = q / {blocks}, k0 = (q % {blocks})*{ROWS};
        if (k0 + {ROWS} <= {n_post})
            {name}_block<{ROWS}>({a['w']} + k0*{n_pre}, {a['r']} + c*{n_pre}, {buffer} + c*{n_post} + k0);
        else
            {name}_block<{tail}>({a['w']} + k0*{n_pre}, {a['r']} + c*{n_pre}, {buffer} + c*{n_post} + k0);
    }}
    return 0;
}}
'''
        # The product, whole, called in the scalar code before Brian2's loop: row o of the buffer (of g_w, negated,
        # for the drive) is a sum over m of scale(o, m) times row m of a matrix (rows), accumulated in registers BLOCK
        # columns at a time in the order of m, so each element is summed in the same order by any number of threads.
        if product == 'apical':   # W^T err: row o (copy o) is sum_k err[o, k] W[k, :]; skipped while err is all 0
            rows, outer, count, scale, scale_stride = a['feedback'], B, n_post, f"{a['err']} + o*{n_post}", 1
        else:                     # err^T r: row o (neuron o) is sum_c err[c, o] r[c, :]; skipped while learning is off
            rows, outer, count, scale, scale_stride = a['r'], n_post, B, f"{a['err']} + o", n_post
        skip = self._skip(product)
        blocks, tail = -(-n_pre // BLOCK), n_pre % BLOCK or BLOCK
        return storage + f'''
template <int WIDTH>
static inline void {name}_block(const {t}* __restrict scale, const {t}* __restrict rows, {t}* __restrict out)
{{
    {t} sum[WIDTH] = {{}};
    for (int m = 0; m < {count}; m++)
    {{
        const {t} s = scale[m*{scale_stride}];
        const {t}* __restrict row = rows + m*{n_pre};
        for (int j = 0; j < WIDTH; j++)
            sum[j] += s*row[j];
    }}
    for (int j = 0; j < WIDTH; j++)
        out[j] = {sign}sum[j];
}}
static double {name}(const double t)
{{{skip}
    if ({zero})
        return 0;
    #pragma omp parallel for schedule(static)
    for (int q = 0; q < {outer * blocks}; q++)
    {{
        const int o = q / {blocks}, j0 = (q % {blocks})*{BLOCK};
        if (j0 + {BLOCK} <= {n_pre})
            {name}_block<{BLOCK}>({scale}, {rows} + j0, {buffer} + o*{n_pre} + j0);
        else
            {name}_block<{tail}>({scale}, {rows} + j0, {buffer} + o*{n_pre} + j0);
    }}
    return 0;
}}
'''

    def _cuda(self, kind):
        B, n_pre, n_post, t = self.batch, self.n_pre, self.n_post, self.c_type
        a = {key: symbol for key, (symbol, _) in self._device_arrays().items()}
        name = f'{self.name}_{kind}'
        if 'product' in kind:     # each thread computes its own element (below): nothing to do before
            return f'''
__host__ __device__ double {name}(const double t)
{{
    return 0;
}}
'''
        if kind == 'basal':       # row k of W times the rates of copy c
            element, count, term = (f'const int c = i / {n_post}, k = i % {n_post};', n_pre,
                                    f"{a['w']}[k*{n_pre} + m]*{a['r']}[c*{n_pre} + m]")
        elif kind == 'apical':    # column j of the feedback matrix times the errors of copy c
            element, count, term = (f'const int c = i / {n_pre}, j = i % {n_pre};', n_post,
                                    f"{a['feedback']}[m*{n_pre} + j]*{a['err']}[c*{n_post} + m]")
        else:                     # the drive of weight (k, j) summed over the copies; none while learning is off
            element, count, term = (f"if ({a['plastic']}[0] == 0) return 0;\n    "
                                    f'const int k = i / {n_pre}, j = i % {n_pre};', B,
                                    f"{a['err']}[m*{n_post} + k]*{a['r']}[m*{n_pre} + j]")
        return f'''
__device__ {t} {name}(const int i)
{{
    {element}
    {t} s = 0;
    for (int m = 0; m < {count}; m++)
        s += {term};
    return s;
}}
'''

    def _cython(self, kind):
        B, n_pre, n_post, t = self.batch, self.n_pre, self.n_post, self.c_type
        name = f'{self.name}_{kind}'
        if 'product' in kind:     # the reads compute their products (at index 0)
            return f'''
cdef double {name}(double t):
    return 0
''', {}
        # Brian2 hands the arrays of a function's namespace to Cython as pointers named _namespace<key>
        keys = {key: f'_{name}_{key}' for key in self.arrays}
        namespace = {keys[key]: variable.get_value() for key, variable in self.arrays.items()}
        p = {key: f'_namespace{k}' for key, k in keys.items()}
        if kind == 'basal':
            return f'''
cdef {t} {name}(int i):
    cdef int w0 = (i % {n_post})*{n_pre}
    cdef int r0 = (i // {n_post})*{n_pre}
    cdef {t} s = 0
    cdef int j
    for j in range({n_pre}):
        s += {p['w']}[w0 + j]*{p['r']}[r0 + j]
    return s
''', namespace
        size = B * n_pre if kind == 'apical' else n_post * n_pre
        namespace[f'_{name}_buffer'] = np.zeros(size, dtype=self.arrays['w'].dtype)
        buffer = f'_namespace_{name}_buffer'
        if kind == 'apical':
            update = f'{buffer}[c*{n_pre} + j] += e*{p["feedback"]}[k*{n_pre} + j]'
            skip = f'''
        for m in range({B * n_post}):
            if {p['err']}[m] != 0:
                break
        else:
            return 0'''
        else:
            update = f'{buffer}[k*{n_pre} + j] += e*{p["r"]}[c*{n_pre} + j]'
            skip = f'''
        if {p['plastic']}[0] == 0:
            return 0'''
        return f'''
cdef {t} {name}(int i):
    cdef int c, k, j, m
    cdef {t} e
    if i == 0:
        for m in range({size}):
            {buffer}[m] = 0{skip}
        for c in range({B}):
            for k in range({n_post}):
                e = {p['err']}[c*{n_post} + k]
                for j in range({n_pre}):
                    {update}
    return {buffer}[i]
''', namespace
