"""Tutorial (c): the microcircuit view of a GLE network, and export of recordings to NWB.

In the compact form, one Brian2 neuron of a GLE network holds both the rate and the error. The
microcircuit form splits every layer into two populations: representation neurons (integrate the
basal input with tau_m, emit the prospective rate with tau_r) and error neurons (integrate
phi' x apical input with tau_r, emit the prospective error with tau_m), wired by explicit synapses.
Both forms compute the same numbers. We check this, record both populations like an
electrophysiologist, and write the recording with the model parameters to an NWB file.

Units: 1 a.u. of the model = 1 ms. Run it as a script::

    python tutorials/c_microcircuit_nwb.py            # figures in tutorials/figures/
    SMALL=1 python tutorials/c_microcircuit_nwb.py    # quicker (used by the tests)

NWB export needs pynwb: ``pip install 'gle-brian[nwb]'``.
"""
# %% Setup
import os
import tempfile

import numpy as np
from brian2 import ms

from gle_brian import GLENetwork, Layer
from gle_brian.microcircuit import MicrocircuitNetwork
from gle_brian.plotting import plot_microcircuit, plot_traces
from gle_brian.io import to_nwb
from gle_brian.recording import record

SMALL = os.environ.get('SMALL') == '1'
HERE = os.path.dirname(os.path.abspath(__file__))
FIGURES = os.environ.get('GLE_TUTORIAL_FIGURES', os.path.join(HERE, 'figures'))
os.makedirs(FIGURES, exist_ok=True)

dt = 0.1 * ms
layers = [Layer(4, 'tanh', tau_m=[5, 10, 10, 20] * ms, tau_r=2 * ms, gamma=0.1),   # lagged hidden neurons
          Layer(2, 'linear', tau_m=10 * ms, gamma=0.1)]                               # LE output neurons
settings = dict(dt=dt, device='numpy', loss='mse', beta=0.5, seed=3)

# %% The same network in both forms
compact = GLENetwork(2, layers, **settings)
micro = MicrocircuitNetwork(2, layers, **settings)
fig = plot_microcircuit(micro)
fig.savefig(os.path.join(FIGURES, 'c_microcircuit.png'), dpi=150)

# Record rates, errors and the error neurons' low-pass v of every neuron, every 0.5 ms. record() must
# come before the first run (standalone devices compile the monitors into the project).
variables = ['u', 'r', 'v', 'err', 'I_apical', 'w']
recordings = {net: record(net, variables, dt=0.5 * ms) for net in (compact, micro)}

# Input: two sines; target: a delayed, mixed copy of them.
duration = 100 * ms if SMALL else 300 * ms
t = np.arange(int(round(duration / dt))) * float(dt / ms)
x = np.column_stack([np.sin(2 * np.pi * t / 50), np.cos(2 * np.pi * t / 80)])
target = np.column_stack([np.sin(2 * np.pi * (t - 5) / 50) - 0.5, 0.8 * np.cos(2 * np.pi * (t - 5) / 80)])
for net in (compact, micro):
    net.run(x, target=target)

rec_c, rec_m = recordings[compact], recordings[micro]
difference = max(float(np.abs(rec_m[key] - rec_c[key]).max()) for key, _ in rec_c.items())
print(f'largest difference between the two forms over {len(rec_c.items())} traces: {difference:.1e}')

# %% Representation and error neurons, as stacked traces
# Hidden layer (column 0) and output layer (column 1); u and r live in the representation neurons, v
# and err in the error neurons.
fig = plot_traces(rec_m, ['u', 'r', 'I_apical', 'v', 'err'], neurons=[0, 1], time_bar=50 * ms)
fig.savefig(os.path.join(FIGURES, 'c_traces.png'), dpi=150)

# %% Export to NWB and read it back
try:
    from pynwb import NWBHDF5IO
except ImportError:
    print("pynwb is not installed: pip install 'gle-brian[nwb]' to export to NWB")
else:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(os.environ.get('GLE_TUTORIAL_OUTPUT', folder), 'microcircuit.nwb')
        to_nwb(rec_m, path, session_description='GLE microcircuit, tutorial (c)')
        with NWBHDF5IO(path, 'r') as io:
            nwb = io.read()
            series = nwb.acquisition['err_layer0']
            print(f'{path}: {sorted(nwb.acquisition)}')
            print(f'err_layer0: {series.data.shape} samples x neurons at {series.rate:g} Hz, unit {series.unit!r}')
            print(nwb.processing['gle_model']['neurons'].to_dataframe())
