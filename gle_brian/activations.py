"""Activation functions phi and their derivatives phi', as Brian2 expressions.

Each activation is a pair of expression strings in one variable ``x``. The same strings serve the
generated code (``x`` is replaced by the prospective potential ``u_breve``) and the numpy mirror in
:mod:`gle_brian.reference` (evaluated with numpy), so phi is written once.

Example::

    >>> from gle_brian.activations import get_activation, Activation
    >>> get_activation('tanh').phi
    'tanh(x)'
    >>> swish = Activation('swish', phi='x/(1 + exp(-x))',
    ...                    phi_prime='(1 + exp(-x) + x*exp(-x))/(1 + exp(-x))**2')
"""
import ast
from dataclasses import dataclass

import numpy as np
from brian2.codegen.generators.cpp_generator import CPPCodeGenerator
from brian2.codegen.generators.numpy_generator import NumpyCodeGenerator
from brian2.core.functions import DEFAULT_FUNCTIONS
from brian2.parsing.sympytools import str_to_sympy
from brian2.utils.stringtools import get_identifiers, word_substitute

from .errors import GLEConfigError

__all__ = ['Activation', 'ACTIVATIONS', 'NUMPY_NAMESPACE', 'get_activation']

# The functions and constants an activation may use: Brian2 knows them all, and the numpy mirror uses these.
NUMPY_NAMESPACE = {
    'exp': np.exp, 'log': np.log, 'log10': np.log10, 'log1p': np.log1p, 'expm1': np.expm1,
    'sqrt': np.sqrt, 'tanh': np.tanh, 'sinh': np.sinh, 'cosh': np.cosh, 'sin': np.sin, 'cos': np.cos,
    'tan': np.tan, 'arctan': np.arctan, 'arcsin': np.arcsin, 'arccos': np.arccos, 'abs': np.abs,
    'sign': np.sign, 'clip': np.clip, 'floor': np.floor, 'ceil': np.ceil, 'inf': np.inf, 'pi': np.pi,
    'int': lambda a: np.asarray(a).astype(np.int64),
}

# Brian2's numpy target calls numpy directly for exp, log, tanh, ..., but not for log1p and expm1: those go
# through a unit-checking wrapper that formats every result into an error message it then drops (a quarter
# of a softplus network's step). Give them the direct implementation Brian2 gives the others.
for _name in ('log1p', 'expm1'):
    DEFAULT_FUNCTIONS[_name].implementations.add_implementation(NumpyCodeGenerator, code=NUMPY_NAMESPACE[_name])

# C++: glibc's vector versions (libmvec) of these functions let gcc vectorise a loop that calls them (the rate code
# of a layer), but glibc declares them only under -ffinite-math-only, which Brian2's flags switch off (the NaN watch
# needs it). Declared here for the generated code, with the hash defines (outside the namespace of Brian2's support
# code), on x86-64 with glibc 2.35 or later, which has them all; elsewhere (and in single precision, whose float
# versions are not declared here) the scalar functions are called.
VECTOR_FUNCTIONS = {'exp': 'exp', 'log': 'log', 'log10': 'log10', 'log1p': 'log1p', 'expm1': 'expm1', 'tanh': 'tanh',
                    'sinh': 'sinh', 'cosh': 'cosh', 'sin': 'sin', 'cos': 'cos', 'tan': 'tan', 'arctan': 'atan',
                    'arcsin': 'asin', 'arccos': 'acos'}
_VECTOR_DECLARATION = '''
#if defined(__x86_64__) && defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
extern "C" double {0}(double) noexcept __attribute__((__simd__("notinbranch")));
#endif
'''
for _name, _c_name in VECTOR_FUNCTIONS.items():
    DEFAULT_FUNCTIONS[_name].implementations.add_implementation(
        CPPCodeGenerator, code={'hashdefine_code': _VECTOR_DECLARATION.format(_c_name)}, name=_c_name,
        availability_check=DEFAULT_FUNCTIONS[_name].implementations[CPPCodeGenerator].availability_check)


# The syntax an activation may use: arithmetic, comparisons and calls of the functions of NUMPY_NAMESPACE on numbers
# and names; no attributes, subscripts, strings or other Python. Powers take a name or a number up to MAX_EXPONENT as
# exponent, so that no expression makes the parser compute a huge number (0*9**9**9).
_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Call, ast.Name, ast.Constant,
          ast.Load, ast.operator, ast.unaryop, ast.boolop, ast.cmpop)
MAX_EXPONENT = 100


def _check_syntax(where, part, expression):
    """Refuse anything but plain arithmetic in ASCII names (Python reads fullwidth letters as ASCII names)."""
    if not expression.isascii():
        raise GLEConfigError(f'{where}: {part} has characters outside ASCII; write it in plain ASCII, e.g. "tanh(x)".')
    try:
        tree = ast.parse(expression, mode='eval')
    except SyntaxError as error:
        raise GLEConfigError(f'{where}: {part} does not parse ({error.msg}); write an expression in x, e.g. '
                             '"tanh(x)".') from None
    for node in ast.walk(tree):
        plain_call = not isinstance(node, ast.Call) or (isinstance(node.func, ast.Name) and not node.keywords)
        number = not isinstance(node, ast.Constant) or type(node.value) in (int, float)
        exponent = node.right if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) else None
        if isinstance(exponent, ast.UnaryOp):                 # x**-2
            exponent = exponent.operand
        small_power = exponent is None or isinstance(exponent, ast.Name) or (
            isinstance(exponent, ast.Constant) and type(exponent.value) in (int, float)
            and abs(exponent.value) <= MAX_EXPONENT)
        if not (isinstance(node, _NODES) and plain_call and number and small_power):
            shown = ast.unparse(node) if isinstance(node, ast.expr) else type(node).__name__
            raise GLEConfigError(f'{where}: {part} does not parse as an activation ({type(node).__name__} {shown!r} '
                                 'is not allowed); write arithmetic on x with the functions of gle_brian.activations '
                                 f'(powers with an exponent of at most {MAX_EXPONENT}).')


def _check_expression(name, part, expression, variables=('x',)):
    """Parse ``expression`` as Brian2 does; it may use ``variables`` and the names of ``NUMPY_NAMESPACE`` only."""
    where = f'Activation({name!r}, {part}={expression!r})'
    if not isinstance(expression, str):
        raise GLEConfigError(f'{where}: {part} must be a string, an expression in x such as "tanh(x)".')
    _check_syntax(where, part, expression)
    try:
        str_to_sympy(expression)
    except (SyntaxError, TypeError, ValueError) as error:
        raise GLEConfigError(f'{where}: {part} does not parse ({error}); write an expression in x, e.g. '
                             '"tanh(x)".') from None
    unknown = sorted(get_identifiers(expression) - set(variables) - set(NUMPY_NAMESPACE))
    if unknown:
        raise GLEConfigError(f'{where}: {part} uses the unknown names {unknown}; use {" and ".join(variables)} and '
                             f'{sorted(NUMPY_NAMESPACE)}.')


@dataclass(frozen=True)
class Activation:
    """A rate function ``phi(x)`` and its derivative ``phi_prime(x)``, both dimensionless.

    ``phi`` and ``phi_prime`` are Brian2 expressions in ``x``; they may use the functions Brian2 and the
    numpy mirror share (``exp``, ``log1p``, ``tanh``, ``clip``, ``abs``, ``int``, ...) and ``inf``, ``pi``.
    ``phi_prime`` may also use ``phi``, the rate ``phi(x)`` (``'1 - phi**2'`` for tanh), which the neuron has
    just computed: one transcendental call per neuron and step instead of two. Both are parsed when the
    Activation is made: a typo raises :class:`GLEConfigError` at once. ``constants`` names further identifiers,
    constants of a Brian2 script that Brian2 finds in the run namespace like any expression's (for
    :class:`~gle_brian.groups.GLEGroup` in a script; the numpy mirror, ``GLENetwork`` and checkpoints need numbers).

    Example: ``Activation('gain', phi='k*tanh(x)', phi_prime='k*(1 - tanh(x)**2)', constants=('k',))``
    """
    name: str
    phi: str
    phi_prime: str
    constants: tuple = ()

    def __post_init__(self):
        constants = (self.constants,) if isinstance(self.constants, str) else self.constants
        if not isinstance(constants, (tuple, list)) or not all(
                isinstance(c, str) and c.isascii() and c.isidentifier() and c not in ('x', 'phi') for c in constants):
            raise GLEConfigError(f'Activation({self.name!r}, constants={self.constants!r}): give the names of the '
                                 "script's constants, e.g. constants=('k',).")
        object.__setattr__(self, 'constants', tuple(constants))
        _check_expression(self.name, 'phi', self.phi, ('x',) + self.constants)
        _check_expression(self.name, 'phi_prime', self.phi_prime, ('x', 'phi') + self.constants)

    def expressions(self, variable, rate=None):
        """The pair ``(phi, phi_prime)`` with ``x`` replaced by ``variable`` and ``phi`` in ``phi_prime`` by
        ``rate`` (the name of a variable holding ``phi(variable)``), or else by ``phi``'s expression."""
        phi = word_substitute(self.phi, {'x': variable})
        return phi, word_substitute(self.phi_prime, {'x': variable, 'phi': rate or f'({phi})'})

    def numpy_functions(self):
        """``(phi, phi_prime)`` as numpy callables, compiled from the same expressions."""
        if self.constants:
            raise GLEConfigError(f'Activation({self.name!r}) uses the constants {list(self.constants)} of a Brian2 '
                                 'run namespace; the numpy mirror and checkpoints need numbers: write their values '
                                 'into phi and phi_prime.')
        phi = _numpy_function(self.phi)
        phi_prime = _numpy_function(self.phi_prime)
        return phi, lambda x: phi_prime(x, phi(x))

    def values(self):
        """What the activation computes: its name, and ``phi`` and ``phi_prime`` at :data:`SAMPLE_POINTS` (12
        significant digits), whatever way the expressions are written (``'1 - phi**2'`` or
        ``'1 - tanh(x)**2'``). Checkpoints compare activations by these."""
        x = np.asarray(SAMPLE_POINTS)
        return {'name': self.name, **{name: [float(f'{value:.12g}') for value in function(x)]
                                      for name, function in zip(('phi', 'phi_prime'), self.numpy_functions())}}


#: where :meth:`Activation.values` samples an activation
SAMPLE_POINTS = (-4.0, -1.0, -0.3, 0.0, 0.3, 1.0, 4.0)


# The model's rate functions, written in overflow-free forms: the logistic sigmoid
# 1/(1 + exp(-x)) as (1 + tanh(x/2))/2, softplus log(1 + exp(x)) as max(x, 0) + log(1 + exp(-|x|)).
ACTIVATIONS = {
    'linear': Activation('linear', 'x', '1.0'),
    'tanh': Activation('tanh', 'tanh(x)', '1 - phi**2'),
    'sigmoid': Activation('sigmoid', '0.5*(1 + tanh(0.5*x))', '0.25*(1 - tanh(0.5*x)**2)'),
    'softplus': Activation('softplus', 'clip(x, 0, inf) + log1p(exp(-abs(x)))', '0.5*(1 + tanh(0.5*x))'),
    'relu': Activation('relu', 'clip(x, 0, inf)', 'int(x > 0)*1.0'),
}


def _numpy_function(expression):
    code = compile(expression, f'<activation {expression}>', 'eval')

    def function(x, phi=None):
        values = eval(code, {'__builtins__': {}, **NUMPY_NAMESPACE}, {'x': x, 'phi': phi})   # checked: arithmetic
        return np.broadcast_to(values, np.shape(x)).astype(float)
    return function


def get_activation(activation):
    """Return an :class:`Activation` given its name or an :class:`Activation` instance."""
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str) and activation in ACTIVATIONS:
        return ACTIVATIONS[activation]
    raise GLEConfigError(
        f"activation={activation!r} is not known. Use one of {sorted(ACTIVATIONS)}, or give your own "
        "as Activation(name, phi='expression in x', phi_prime='its derivative (in x and phi)').")
