"""Tutorial (d): a cortical column as a graph of GLE populations, with sparse, lateral and recurrent projections.

Layers are the simplest graph. ``GLEGraph`` wires named populations with projections from the input or any
population to any population, itself included. Each projection takes Brian2's connection arguments (a
condition in ``i`` and ``j``, a probability ``p``), an optional sign (Dale's law: excitatory weights stay
``>= 0``, inhibitory ones ``<= 0``) and can be fixed. Here: L4 receives the input, L2/3 has lateral
connections and an inhibitory population, L5 sends a top-down projection back to L2/3, and a linear
population reads out L5. We check the network against the numpy mirror of the step, let it learn a lagged
teacher, and look at the weights and the traces. Last, the same column with separate representation and error
populations (``MicrocircuitGraph``).

Units: 1 a.u. of the model = 1 ms. Run it as a script::

    python tutorials/d_cortical_column.py            # figures in tutorials/figures/
    SMALL=1 python tutorials/d_cortical_column.py    # quicker (used by the tests)
"""
# %% Setup
import os

import numpy as np
import scipy.sparse
from brian2 import ms
from matplotlib.figure import Figure

from gle_brian import Adam, GLEGraph, Layer, Learning, Projection
from gle_brian.microcircuit import MicrocircuitGraph
from gle_brian.plotting import plot_traces
from gle_brian.recording import record
from gle_brian.reference import ReferenceGraph, ReferenceProjection

SMALL = os.environ.get('SMALL') == '1'
HERE = os.path.dirname(os.path.abspath(__file__))
FIGURES = os.environ.get('GLE_TUTORIAL_FIGURES', os.path.join(HERE, 'figures'))
os.makedirs(FIGURES, exist_ok=True)
rng = np.random.default_rng(0)

# %% Populations and projections
# The populations in loops are Latent Equilibrium neurons (tau_r = tau_m), and the loops' weights are weak and
# fixed: an error that goes round a loop is amplified by up to tau_m/tau_r per step and by the loop's weights.
populations = {'L4': Layer(12, 'tanh', tau_m=2 * ms, tau_r=0.5 * ms, bias=True),   # lagged input layer
               'L23': Layer(16, 'tanh', tau_m=1 * ms, bias=True),
               'L23i': Layer(4, 'tanh', tau_m=0.5 * ms),                           # interneurons
               'L5': Layer(10, 'tanh', tau_m=1.5 * ms, bias=True),
               'out': Layer(2, 'linear', tau_m=0.5 * ms)}
projections = [
    Projection('input', 'L4'),
    Projection('L4', 'L23', connect=dict(p=0.5), sign=+1),
    Projection('L23', 'L23', connect='abs(i - j) <= 2 and i != j', sign=+1, plastic=False,
               weights=rng.uniform(0, 0.05, (16, 16))),
    Projection('L23', 'L23i', sign=+1, plastic=False),
    Projection('L23i', 'L23', sign=-1, plastic=False, weights=-rng.uniform(0, 0.1, (16, 4))),
    Projection('L23', 'L5', connect=dict(p=0.5), sign=+1),
    Projection('L5', 'L23', plastic=False, weights=rng.uniform(-0.05, 0.05, (16, 10))),   # top-down
    Projection('L5', 'out')]
settings = dict(dt=0.05 * ms, loss='mse', beta=0.1, learning=Learning(Adam(lr=1e-4)))
net = GLEGraph(3, populations, projections, device='numpy', seed=2, record=['r'], record_layers=[4], **settings)
rec = record(net, ['u', 'r', 'err'], neurons={q: [0, 1] for q in range(5)}, dt=0.1 * ms)
print({f'{p.pre}->{p.post}': int(w.size if c is None else len(c[0]))
       for p, w, c in zip(projections, net.weights, net.connectivity)})

# %% The same step in numpy
# ReferenceGraph computes the model's discrete step with numpy and scipy.sparse; the Brian2 network must equal it.
mirror_projections = []
for k, (spec, (pre, post)) in enumerate(zip(projections, net.projection_specs)):
    w, synapses = net.weights[k], net.connectivity[k]
    if synapses is not None:
        w = scipy.sparse.csr_matrix((w[synapses[1], synapses[0]], (synapses[1], synapses[0])), shape=w.shape)
    mirror_projections.append(ReferenceProjection(pre, post, w, sign=spec.sign, plastic=spec.plastic))
mirror = ReferenceGraph(3, net.layers, mirror_projections, outputs=[4], biases=net.biases, **settings)

# Input: three sines; target: a mix of them 1 ms earlier (a lagged teacher).
steps = 2000 if SMALL else 8000
t = np.arange(steps) * 0.05
x = np.column_stack([np.sin(w * t) for w in (0.3, 0.7, 1.3)])
target = 0.5 * np.tanh(np.column_stack([np.sin(w * (t - 1)) for w in (0.3, 0.7, 1.3)])
                       @ rng.normal(size=(3, 2)))
net.run(x, target)
expected = mirror.run(x, target)['r'][4][:, 0]
print(f'largest difference to the numpy step over {steps} steps: {np.abs(net.trace("r", 4) - expected).max():.1e}')
error = (net.trace('r', 4)[:-1] - target[1:]) ** 2       # the rate stored after step n predicts the target of n + 1
quarter = len(error) // 4
print(f'output mean squared error: {error[:quarter].mean():.4f} in the first quarter, '
      f'{error[-quarter:].mean():.4f} in the last')

# %% The weights after learning: sparse, signed and fixed projections
fig = Figure(figsize=(11, 2.6), layout='constrained')
for ax, (spec, w) in zip(fig.subplots(1, len(projections)), zip(projections, net.weights)):
    limit = np.abs(w).max() or 1
    ax.imshow(w, cmap='RdBu_r', vmin=-limit, vmax=limit, interpolation='nearest')
    ax.set_title(f'{spec.pre}→{spec.post}' + ('' if spec.plastic else ' (fixed)'), fontsize=8)
    ax.set_axis_off()
fig.savefig(os.path.join(FIGURES, 'd_weights.png'), dpi=150)

# %% Every population, as stacked traces (the last 20 ms)
fig = plot_traces(rec, ['u', 'r', 'err'], time_bar=5 * ms, last=20 * ms)
fig.savefig(os.path.join(FIGURES, 'd_traces.png'), dpi=150)

# %% Representation and error populations
# In the microcircuit form every population is two: representation neurons (u, r) and error neurons
# ('<name>_error': they low-pass phi' times the apical input with tau_r, v, and emit the prospective error
# err = v + tau_m dv/dt), wired one-to-one. It is the same network: both forms, built afresh, compute the same
# numbers.
steps = 1000 if SMALL else 4000
compact = GLEGraph(3, populations, projections, device='numpy', seed=2, record=['r', 'err'], **settings)
micro = MicrocircuitGraph(3, populations, projections, device='numpy', seed=2, record=['r', 'err'], **settings)
print('error populations:', [group.name for group in micro.error_neurons])
rec_micro = record(micro, ['r', 'v', 'err'], neurons={q: [0, 1] for q in (1, 3)}, dt=0.1 * ms)
for network in (compact, micro):
    network.run(x[:steps], target[:steps])
print('largest difference between the two forms:',
      f'{max(np.abs(micro.trace(v, q) - compact.trace(v, q)).max() for v in ("r", "err") for q in range(5)):.1e}')
fig = plot_traces(rec_micro, ['r', 'v', 'err'], time_bar=5 * ms, last=20 * ms)
fig.suptitle('L2/3 and L5: rates of the representation neurons, v and err of their error neurons', fontsize=9)
fig.savefig(os.path.join(FIGURES, 'd_microcircuit.png'), dpi=150)
