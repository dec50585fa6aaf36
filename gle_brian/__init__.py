"""gle-brian: Generalized Latent Equilibrium (GLE) networks in Brian2.

GLE neurons low-pass filter their basal input with ``tau_m`` and emit a prospective rate
``phi(u + tau_r du/dt)``; errors flow down through apical dendrites with the two time constants swapped
and drive local plasticity (Ellenberger et al., "Backpropagation through space, time and the brain").

Example::

    >>> from brian2 import ms
    >>> from gle_brian import GLENetwork, Layer
    >>> net = GLENetwork(1, [Layer(2, 'tanh', tau_m=1*ms, tau_r=0.1*ms), Layer(1, tau_m=1*ms)],
    ...                  dt=0.01*ms, device='numpy', loss='mse', beta=0.1)
"""
from . import compilation  # noqa: F401  (the C++ standalone makefile: a precompiled header)
from .activations import Activation, get_activation
from .errors import GLEConfigError, GLEDeviceError, GLEInputError, GLENumericalError, GLEOutputError
from .graph import GLEGraph, Projection
from .groups import GLEGroup
from .network import GLENetwork, init_weights
from .neurons import Layer
from .optimisers import Adam, Learning, SGD
from .projections import GLEProjection
from .reference import ReferenceNetwork
from .targets import GLETarget

__all__ = ['GLEGroup', 'GLEProjection', 'GLETarget', 'Activation', 'get_activation', 'GLEConfigError', 'GLEDeviceError',
           'GLEInputError', 'GLEOutputError', 'GLENumericalError', 'GLENetwork', 'GLEGraph', 'Projection',
           'init_weights', 'Layer', 'ReferenceNetwork', 'Learning', 'SGD', 'Adam']
__version__ = '0.1.0'
