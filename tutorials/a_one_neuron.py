"""Tutorial (a): one GLE neuron -- prospective coding and phase advance.

A GLE neuron low-pass filters its input with the membrane time constant tau_m, but emits its rate from
the *prospective* potential u_breve = u + tau_r du/dt: it looks ahead by tau_r. With tau_r = tau_m
(Latent Equilibrium) the rate follows the input without delay; with tau_r < tau_m part of the
membrane's lag remains. Here we record one neuron like an intracellular recording, measure its
frequency response with sine inputs and compare it with the analytic transfer function
H(s) = (1 + s tau_r)/(1 + s tau_m), and read its rate out as Poisson spike trains.

Units: 1 a.u. of the model = 1 ms. Run it as a script::

    python tutorials/a_one_neuron.py            # figures in tutorials/figures/
    SMALL=1 python tutorials/a_one_neuron.py    # a quick, smaller version (used by the tests)
"""
# %% Setup
import os

import numpy as np
from brian2 import Hz, ms

from gle_brian import GLENetwork, Layer
from gle_brian.plotting import plot_bode, plot_raster, plot_sine_response, plot_traces
from gle_brian.recording import frequency_response, poisson_spikes, record, transfer_function

SMALL = os.environ.get('SMALL') == '1'
FIGURES = os.environ.get('GLE_TUTORIAL_FIGURES', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'figures'))
os.makedirs(FIGURES, exist_ok=True)

tau_m, tau_r = 10 * ms, 3 * ms          # a slow membrane that looks ahead by 3 ms
dt = 0.1 * ms
f_drive = 20 * Hz                        # above the membrane's corner frequency 1/(2 pi tau_m) = 16 Hz

# %% One neuron driven by a sine wave
# The neuron is the only neuron of a one-layer network; its basal input is the sine x(t) (weight 1).
# A sigmoid rate function keeps the rate positive, for the spike read-out below.
net = GLENetwork(1, [Layer(1, 'sigmoid', tau_m=tau_m, tau_r=tau_r)], dt=dt, device='numpy', weights=[np.ones((1, 1))])
rec = record(net, ['I_basal', 'u', 'u_breve', 'r'], dt=dt)
duration = 150 * ms if SMALL else 300 * ms
t = np.arange(int(round(duration / dt))) * dt
net.run(2 * np.sin(2 * np.pi * f_drive * t))

fig = plot_traces(rec, ['I_basal', 'u', 'u_breve', 'r'], time_bar=20 * ms)
fig.savefig(os.path.join(FIGURES, 'a_traces.png'), dpi=150)

# %% The rate leads the membrane potential
# Normalised to their amplitudes, the rate peaks before the membrane potential: the phase advance is
# arctan(omega tau_r), and the remaining lag behind the input is arg H = arctan(omega tau_r) - arctan(omega tau_m).
omega = float(2 * np.pi * f_drive)
print(f'phase advance of r over u at {f_drive}: {np.degrees(np.arctan(omega * float(tau_r))):.1f} degrees; '
      f'lag of r behind the input: {-np.degrees(np.angle(transfer_function(f_drive, tau_m, tau_r))):.1f} degrees')
fig = plot_sine_response(rec, periods=2)
fig.savefig(os.path.join(FIGURES, 'a_phase_advance.png'), dpi=150)

# %% Frequency response: simulated points on the analytic transfer functions
# frequency_response drives one linear neuron per frequency (basal input -> u_breve, the forward path H;
# and, on the way down, error input -> prospective error, the error path G = 1/H) and fits amplitude
# and phase of the steady state.
frequencies = np.logspace(np.log10(2), np.log10(1000), 5 if SMALL else 9) * Hz
H = frequency_response(tau_m, tau_r, frequencies, dt=dt)
G = frequency_response(tau_m, tau_r, frequencies, dt=dt, path='error')
error = np.abs(H - transfer_function(frequencies, tau_m, tau_r, dt=dt)).max()
print(f'simulated vs exact discrete H: largest difference {error:.1e}')
fig = plot_bode(tau_m, tau_r, measured=(frequencies, H, G))
fig.savefig(os.path.join(FIGURES, 'a_bode.png'), dpi=150)

# %% A spiking read-out: Poisson spike trains drawn from the rate
# The rate (between 0 and 1) is scaled to at most 100 Hz; 100 trials with a fixed seed.
trials = 20 if SMALL else 100
rate_scale = 100 * Hz
spike_t, spike_i = poisson_spikes(rec['r', 0], rec.dt, rate_scale=rate_scale, trials=trials, seed=1)
fig = plot_raster(spike_t, spike_i, trains=trials, duration=duration, bin_size=5 * ms,
                  expected=(rec.t, rec['r', 0] * rate_scale))
fig.savefig(os.path.join(FIGURES, 'a_raster.png'), dpi=150)
print(f'{len(spike_t)} spikes in {trials} trials; figures in {FIGURES}')
