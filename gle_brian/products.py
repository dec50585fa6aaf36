"""A projection's three sums as Brian2 Functions computed whole, once per step, inside Brian2's generated code.

What the dense (all-to-all, :mod:`gle_brian.dense`) and the sparse (CSR, :mod:`gle_brian.sparse`) projections
share: the Functions and their implementations per target, the statements the network's generated code runs,
the C++ buffers of the products and the skips. Each product ``kind`` (``'basal'``, ``'apical'``, ``'gradient'``)
is two Functions: ``<name>_<kind>_product(t)``, the whole product, which Brian2 runs once in the scalar code
before its loop (a function of the time alone), and ``<name>_<kind>(i)``, element ``i`` of it, read in the loop
(:mod:`gle_brian.dense` explains why Functions and not a templater). A subclass writes the implementations:
``_numpy``, ``_cpp`` (and optionally ``_cython``, ``_cuda``) of each kind, and the sizes of the buffers.

Example::

    >>> from gle_brian import GLENetwork, Layer
    >>> from brian2 import ms
    >>> net = GLENetwork(2, [Layer(3, 'tanh', tau_m=1*ms)], dt=0.01*ms, device='numpy')
    >>> sorted(net.projections[0].functions)[:2]
    ['projection_0_apical', 'projection_0_apical_product']
"""
import numpy as np
from brian2 import Function, second
from brian2.devices import get_device
from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

from .groups import on_gpu

__all__ = ['ProjectionProducts']

# C and Cython types of Brian2's float arrays
C_TYPES = {np.dtype(np.float64): 'double', np.dtype(np.float32): 'float'}

KINDS = ('basal', 'apical', 'gradient')


class ProjectionProducts:
    """The basal, apical and gradient products of a projection ``pre -> post`` as Brian2 Functions.

    Parameters
    ----------
    name : str
        Prefix of the function names (unique in the network), e.g. ``'projection_1'``.
    weights : NeuronGroup
        The group holding ``w`` (and ``w_feedback``, and with learning ``plastic_w``): one element per weight.
    pre, post : NeuronGroup
        ``batch*n_pre`` and ``batch*n_post`` neurons (copy ``c`` first, then the neuron): ``pre`` has the
        rates ``r`` (and receives ``I_apical``), ``post`` the errors ``err`` (and receives ``I_basal``).
    batch : int
        Number of copies.
    feedback : str
        The variable of ``weights`` that carries errors down: ``'w'`` or ``'w_feedback'``.
    """

    #: targets with an implementation (a subclass without Cython or CUDA code leaves them out)
    targets = ('numpy', 'cython', 'cpp', 'cuda')

    def __init__(self, name, weights, pre, post, batch, feedback='w'):
        self.name = name
        self.n_pre, self.n_post, self.batch = len(pre) // batch, len(post) // batch, batch
        self.arrays = {'w': weights.variables['w'], 'feedback': weights.variables[feedback],
                       'r': pre.variables['r'], 'err': post.variables['err']}
        if 'plastic_w' in weights.variables:      # a plastic projection: the drive is skipped while it is 0
            self.arrays['plastic'] = weights.variables['plastic_w']
            self.arrays['drive'] = weights.variables['g_w']
        self.c_type = C_TYPES[np.dtype(self.arrays['w'].dtype)]
        #: C++ standalone (not CUDA): the gradient product writes the drive ``g_w`` itself (no loop reads it again)
        device = get_device()
        self.writes_drive = isinstance(device, CPPStandaloneDevice) and not on_gpu()

    def _make_functions(self):
        """The Functions of the three products (called by a subclass once it is set up)."""
        self.functions = {}
        for kind in KINDS:
            # the whole product, called once per step in the scalar code (a function of t), and element i of it
            product = Function(None, arg_units=[second], arg_names=['t'], arg_types=['float'], return_unit=1,
                               return_type='float', stateless=True)
            element = Function(None, arg_units=[1], arg_names=['i'], arg_types=['integer'], return_unit=1,
                               return_type='float', stateless=False)
            self._implement(product, f'{kind}_product')
            self._implement(element, kind, dependencies={f'{self.name}_{kind}_product': product})
            self.functions.update({f'{self.name}_{kind}_product': product, f'{self.name}_{kind}': element})

    def _cpp_implementation(self, kind):
        """The C++ code (a function of ``kind``) of the function ``kind`` and its compiler settings (or None)."""
        return self._cpp, None

    def _cpp_namespace(self, kind):
        """Arrays the C++ code of ``kind`` reads as ``_namespace<key>`` (standalone: static arrays), or None."""
        return None

    def _implement(self, function, kind, dependencies=None):
        """Every target's code of ``function``, generated when Brian2 generates the code of a run (with the device
        of that run); in C++ the element's code follows its product's (``dependencies``: it reads its buffer)."""
        implementations = function.implementations
        implementations.add_implementation('numpy', self._numpy(kind))
        if 'cython' in self.targets:
            implementations.add_dynamic_implementation('cython', code=lambda owner: self._cython(kind)[0],
                                                       namespace=lambda owner: self._cython(kind)[1])
        code, compiler_kwds = self._cpp_implementation(kind)
        implementations.add_dynamic_implementation('cpp', code=lambda owner: code(kind),
                                                   namespace=lambda owner: self._cpp_namespace(kind),
                                                   name=f'{self.name}_{kind}', dependencies=dependencies,
                                                   compiler_kwds=compiler_kwds)
        if 'cuda' in self.targets:
            implementations.add_dynamic_implementation('cuda', code=lambda owner: self._cuda(kind),
                                                       namespace=lambda owner: None, name=f'{self.name}_{kind}')

    # --- the expressions the network's generated code uses -----------------------------------------

    @property
    def basal_input(self):
        """Expression, in the post group, of its basal input from the stored presynaptic rates (after
        :attr:`basal_product`)."""
        return f'{self.name}_basal(i)'

    def _product(self, kind):
        """The statement that computes the product ``kind`` whole (a function of ``t``: Brian2 runs it once, in the
        scalar code before its loop reads the rows)."""
        return f'{self.name}_{kind}_done = {self.name}_{kind}_product(t)'

    @property
    def basal_product(self):
        """Statement, in the post group, that computes the basal products of all its neurons (once per step)."""
        return self._product('basal')

    def apical_code(self, target='I_apical'):
        """Abstract code of the pre group: its apical input (into ``target``) from this step's postsynaptic errors
        (the product in the scalar code, once; the loop reads its rows)."""
        return f'{self._product("apical")}\n{target} = {self.name}_apical(i)'

    @property
    def gradient_code(self):
        """Abstract code of the weight group: the drive ``g_w``, the sum over the batch of ``-err_post r_pre``.

        It has a code object of its own, so that the optimiser's loop reads ``g_w`` like its other arrays
        (C++ compilers vectorise that loop then). It is 0 while learning is off (``plastic_w`` 0). In C++ standalone
        the product writes ``g_w`` itself (:attr:`writes_drive`; the binary writes every array back after its run),
        which saves the buffer and a loop over the weights that read it back (20 MNIST-1D samples at batch 1: the
        binary's loop 0.25-0.29 s -> 0.18-0.20 s, bench/RESULTS.md); elsewhere Brian2's loop copies it.
        """
        if self.writes_drive:
            return self._product('gradient')
        return f'{self._product("gradient")}\ng_w = -{self.name}_gradient(i)'

    # --- what the implementations share --------------------------------------------------------------

    @staticmethod
    def _numpy_product(t):
        """numpy: the reads compute their products (called with every index at once)."""
        return 0.0

    def _buffer_size(self, product):
        """Numbers in the C++ buffer of ``product`` (``'basal'``, ``'apical'`` or ``'gradient'``)."""
        raise NotImplementedError

    def _storage(self, product):
        """C++ declaration of the buffer of ``product`` and of whether it is zero (by whichever of its two functions
        comes first); the drive written into ``g_w`` (:attr:`writes_drive`) has no buffer."""
        buffer = (f'\nstatic {self.c_type} {self.name}_{product}_buffer[{self._buffer_size(product)}];'
                  * (product != 'gradient' or not self.writes_drive))
        return f'''
#ifndef {self.name}_{product}_storage
#define {self.name}_{product}_storage{buffer}
static bool {self.name}_{product}_zero = true;
#endif'''

    def _result(self, product):
        """The C++ array that the product ``product`` writes, and the sign of what it writes there: its buffer, or
        for the drive written into ``g_w`` (:attr:`writes_drive`) that array and ``-``."""
        if product == 'gradient' and self.writes_drive:
            return self._cpp_arrays()['drive'], '-'
        return f'{self.name}_{product}_buffer', ''

    def _cpp_arrays(self):
        device = get_device()
        return {key: 'brian::' + device.get_array_name(variable) for key, variable in self.arrays.items()}

    def _skip(self, product):
        """C++ that sets the product's zero flag: the feedback while the errors are all 0, the drive while learning
        is off, never the basal product."""
        a, zero = self._cpp_arrays(), f'{self.name}_{product}_zero'
        if product == 'apical':
            return f'''
    bool errors = false;
    for (int m = 0; m < {self.batch * self.n_post}; m++)
        errors |= {a['err']}[m] != 0;
    {zero} = !errors;'''
        if product == 'gradient':
            return f'''
    {zero} = {a['plastic']}[0] == 0;'''
        return f'''
    {zero} = false;'''

    def _cpp_element(self, kind):
        """C++ of Brian2's loop over the elements: element ``i`` of the product's buffer."""
        buffer, zero = f'{self.name}_{kind}_buffer', f'{self.name}_{kind}_zero'
        return self._storage(kind) + f'''
static {self.c_type} {self.name}_{kind}(const int i)
{{
    return {zero} ? 0 : {buffer}[i];
}}
'''

    def _device_arrays(self):
        """brian2cuda's names of the arrays: the ``__device__`` pointer and the host's copy of it."""
        device = get_device()
        return {key: (f'brian::d{device.get_array_name(variable)}', f'brian::dev{device.get_array_name(variable)}')
                for key, variable in self.arrays.items()}

    def cuda_setup(self):
        """Have the CUDA program point brian2cuda's ``__device__`` array pointers at the arrays it allocated.

        brian2cuda declares a pointer ``brian::d_array_<name>`` for every array, but sets it only for static
        arrays; the device functions of ``_cuda`` read the weights, rates and errors through them.
        """
        lines = [f'CUDA_SAFE_CALL(cudaMemcpyToSymbol({symbol}, &{pointer}, sizeof({self.c_type}*)));'
                 for symbol, pointer in dict(self._device_arrays().values()).items()]
        get_device().insert_code('after_start', '\n'.join(lines))
