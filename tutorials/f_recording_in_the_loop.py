"""Tutorial (f): a recording in the loop. A GLE microcircuit learns a cell's response from an NWB file, and its fit
goes back into NWB.

A lab's recording: a current injected into a cell (``drive``, pA) and the cell's membrane potential (``vm``, mV),
both sampled at 1 kHz, in an NWB file. Here the "cell" is a known teacher circuit (one GLE neuron with
``w = 0.8``, ``tau_m = 8 ms``, simulated finely and sampled with recording noise), so we can check what is learned;
give ``--recording FILE.nwb`` to use a file of your own with the same two series. Then:

1. the recording is read with :func:`gle_brian.io.read_nwb`, resampled from 1 kHz to the network's dt and scaled
   to model units (10 pA and 5 mV are one model unit);
2. a GLE network in microcircuit form (a representation and an error neuron) learns its weight and its membrane
   time constant online, over a few passes through the recording;
3. the figure shows the fit over the recording (in mV) before and after learning, the error over time, and a Bode
   plot of the learned neuron against the teacher's and the response measured in the recording;
4. the model's traces (and Poisson spikes of its rate) are written back to NWB, next to the recording's subject,
   and checked with the NWB inspector.

Run it as a script::

    python tutorials/f_recording_in_the_loop.py                  # figures in tutorials/figures/
    SMALL=1 python tutorials/f_recording_in_the_loop.py          # shorter (used by the tests)

Needs pynwb and nwbinspector: ``pip install 'gle-brian[nwb]'``.
"""
# %% Setup
import argparse
import datetime
import os
import tempfile

import matplotlib
import numpy as np
from brian2 import Hz, mV, ms, pA

from gle_brian import Adam, GLENetwork, Layer, Learning
from gle_brian.io import read_nwb, to_nwb
from gle_brian.microcircuit import MicrocircuitNetwork
from gle_brian.plotting import plot_bode
from gle_brian.recording import poisson_spikes, record, transfer_function

matplotlib.use(os.environ.get('MPLBACKEND', 'Agg'))
import matplotlib.pyplot as plt  # noqa: E402

SMALL = os.environ.get('SMALL') == '1'
HERE = os.path.dirname(os.path.abspath(__file__))
FIGURES = os.environ.get('GLE_TUTORIAL_FIGURES', os.path.join(HERE, 'figures'))
OUTPUT = os.environ.get('GLE_TUTORIAL_OUTPUT', tempfile.mkdtemp(prefix='gle_tutorial_f_'))
os.makedirs(FIGURES, exist_ok=True)

SECONDS, PASSES = (2.0, 6) if SMALL else (4.0, 12)       # length of the recording, passes through it
RATE = 1000.0                                              # the recording's sampling rate (Hz)
FREQUENCIES = [4.0, 11.0, 27.0]                            # the drive: three sines (Hz) ...
AMPLITUDES = [12.0, 8.0, 5.0]                              # ... of these amplitudes (pA)
TEACHER = dict(w=0.8, tau_m=8 * ms)                        # the "cell"
NOISE = 0.2                                                # recording noise (mV)
SUBJECT = dict(subject_id='cell-1', species='Mus musculus', sex='F', age='P60D',
               description='synthetic cell of tutorial (f): a GLE neuron with w = 0.8 and tau_m = 8 ms')


# %% 1. The recording (made here; a lab would have its own file)
def synthetic_recording(path):
    """Write the teacher's response to the drive, sampled at 1 kHz with noise, as an NWB file."""
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.file import Subject
    rng = np.random.default_rng(0)
    fine = 0.1 * ms
    t = np.arange(int(round(SECONDS / float(fine)))) * float(fine)
    drive = sum(a * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for a, f in zip(AMPLITUDES, FREQUENCIES))
    teacher = GLENetwork(1, [Layer(1, tau_m=TEACHER['tau_m'], tau_r=fine)], dt=fine, device='numpy',
                         weights=[np.array([[TEACHER['w']]])], record=['r'])
    teacher.run(drive / 10)                                    # 10 pA is one model unit
    every = int(round(1 / (RATE * float(fine))))
    vm = 5 * teacher.trace('r', 0)[::every, 0] + rng.normal(0, NOISE, len(t[::every]))   # 5 mV a model unit
    nwbfile = NWBFile(session_description='current injection, tutorial (f)', identifier='tutorial-f',
                      session_start_time=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
                      subject=Subject(**SUBJECT))
    nwbfile.add_stimulus(TimeSeries(name='drive', data=drive[::every], unit='amperes', conversion=1e-12, rate=RATE,
                                    description='injected current'))
    nwbfile.add_acquisition(TimeSeries(name='vm', data=vm, unit='volts', conversion=1e-3, rate=RATE,
                                       description='membrane potential'))
    with NWBHDF5IO(path, 'w') as io:
        io.write(nwbfile)
    return path


parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
parser.add_argument('--recording', default=None, help='an NWB file with the TimeSeries drive and vm')
args = parser.parse_args()
path = args.recording or synthetic_recording(os.path.join(OUTPUT, 'f_recording.nwb'))

# %% 2. Read it at the network's dt, in model units
dt = 0.5 * ms
x = read_nwb(path, 'drive', dt=dt, scale=10 * pA)               # 1 kHz -> 2 kHz (polyphase), pA -> model units
y = read_nwb(path, 'vm', dt=dt, scale=5 * mV)
print(f'read {len(x)} steps of dt = {dt} from {path}: drive {x.unit} (scale 10 pA), vm {y.unit} (scale 5 mV)')

# %% 3. A microcircuit learns the cell online
net = MicrocircuitNetwork(1, [Layer(1, tau_m=3 * ms, tau_r=dt)], dt=dt, device='numpy', loss='mse', beta=1.0,
                          seed=1, learning=Learning(Adam(lr=2e-3), tau_m=True, tau_m_min=1 * ms), record=['r'])
rec = record(net, ['u', 'r'])
outputs, errors = [], []
for k in range(PASSES):
    net.run(x, target=y)
    outputs.append(net.trace('r', 0)[:, 0].copy())
    errors.append((outputs[-1] - y.values[:, 0]) ** 2)
learned = dict(w=float(net.weights[0][0, 0]), tau_m=net.tau_m[0][0])
first, last = float(errors[0].mean()), float(errors[-1].mean())
print(f"learned w = {learned['w']:.3f} (teacher {TEACHER['w']}), tau_m = {learned['tau_m'] / ms:.2f} ms "
      f"(teacher {TEACHER['tau_m'] / ms:g} ms); mean squared error {first:.4f} in the first pass, {last:.4f} in the "
      f'last (the noise alone: {(NOISE / 5) ** 2:.4f})')

# %% 4. The figure: fit, error over time, Bode plot
times = np.arange(len(y)) * float(dt)
shown = times < 0.6
fig, axes = plt.subplots(2, 1, figsize=(8, 5.5), layout='constrained')
axes[0].plot(times[shown], np.asarray(y.to_physical(y.values)[shown, 0] / mV), color='0.6', lw=1, label='recording')
for out, style, label in ((outputs[0], '--', 'model, first pass'), (outputs[-1], '-', 'model, after learning')):
    axes[0].plot(times[shown], np.asarray(y.to_physical(out[:, None])[shown, 0] / mV), style, lw=1.5, label=label)
axes[0].set(xlabel='time in the recording (s)', ylabel='vm (mV)', title='fit over the recording')
axes[0].legend(fontsize=8, ncols=3)
window = int(round(0.05 / float(dt)))                      # 50 ms windows, all passes one after the other
error = np.concatenate(errors)
error = error[:len(error) // window * window].reshape(-1, window).mean(axis=1)
axes[1].semilogy(np.arange(len(error)) * 0.05, error, color='C3')
axes[1].axhline((NOISE / 5) ** 2, color='0.5', ls=':', label='recording noise')
for k in range(1, PASSES):
    axes[1].axvline(k * len(y) * float(dt), color='0.85', lw=0.8)
axes[1].set(xlabel='training time (s; grey lines: a new pass through the recording)',
            ylabel='squared error (model units)', title='error over time')
axes[1].legend(fontsize=8)
fig.savefig(os.path.join(FIGURES, 'f_fit.png'), dpi=130)

spectrum_x, spectrum_y = np.fft.rfft(x.values[:, 0]), np.fft.rfft(y.values[:, 0])
bins = [int(round(f * len(x) * float(dt))) for f in FREQUENCIES]
measured = spectrum_y[bins] / spectrum_x[bins] / learned['w']       # the recording's gain per unit weight
fig = plot_bode(learned['tau_m'], dt, measured=(np.array(FREQUENCIES) * Hz, measured, None))
teacher_gain = transfer_function(np.logspace(0, 3, 60) * Hz, TEACHER['tau_m'], 0.1 * ms) * TEACHER['w'] / learned['w']
fig.axes[0].plot(np.logspace(0, 3, 60), np.abs(teacher_gain), 'k:', lw=1, label='teacher')
fig.axes[0].legend(fontsize=7)
fig.suptitle('learned neuron (lines), teacher (dotted), measured in the recording (points)', fontsize=9)
fig.savefig(os.path.join(FIGURES, 'f_bode.png'), dpi=130)

# %% 5. Back to NWB, next to the recording's subject, and checked by the inspector
t, i = poisson_spikes(rec['r', 0], rec.dt, rate_scale=20 * Hz, trials=10, seed=0)
model_file = to_nwb(rec, os.path.join(OUTPUT, 'f_model.nwb'), session_description='GLE fit of tutorial (f)',
                    spikes={0: (t, i, 10)}, subject=SUBJECT, experimenter=['Tutorial, F'], institution='gle-brian',
                    lab='tutorials', session_id='f-fit')
from nwbinspector import Importance, inspect_nwbfile  # noqa: E402
problems = [m for m in inspect_nwbfile(nwbfile_path=model_file)
            if m.importance in (Importance.CRITICAL, Importance.BEST_PRACTICE_VIOLATION)]
print(f'wrote {model_file}: {len(t)} spikes of 10 trains; the NWB inspector reports {len(problems)} critical issues '
      'or best-practice violations')
assert not problems, problems
