"""Tutorial (e): GLE populations in your own Brian2 script.

gle-brian's objects are Brian2 objects: a :class:`GLEGroup` is a NeuronGroup of GLE neurons, a
:class:`GLEProjection` connects any group with a rate ``r`` to one, a :class:`GLETarget` gives a group its
output error. Put them next to your own groups and monitors and call Brian2's ``run()`` as often as you like:
``run()`` collects them, each brings its helpers and its place in the time step.

Here a student learns to imitate a teacher. Both are two-layer GLE networks (8 lagged tanh neurons, one
linear output) driven by the same input, two sines in a NeuronGroup of our own. The teacher's weights are
fixed; the student's output error is ``beta*(teacher rate - student rate)`` and its weights learn with Adam
while the network runs. The student's rate also drives a spiking read-out: a Poisson neuron of our own with a
SpikeMonitor. The script runs on Brian2's runtime (numpy) or, with ``--standalone``, as one C++ standalone
project built at the end (``set_device('cpp_standalone', build_on_run=False)`` and ``device.build()``).

Units: 1 a.u. of the model = 1 ms. Run it as a script::

    python tutorials/e_brian2_script.py                 # runtime (numpy); figure in tutorials/figures/
    python tutorials/e_brian2_script.py --standalone    # the same script as a C++ standalone project
    SMALL=1 python tutorials/e_brian2_script.py         # a quick, smaller version (used by the tests)
"""
# %% Setup
import os
import sys
import tempfile

import matplotlib
import numpy as np
from brian2 import (Hz, NeuronGroup, SpikeMonitor, StateMonitor, defaultclock, device, linked_var, ms, prefs, run,
                    seed, set_device)

from gle_brian import Adam, GLEGroup, GLEProjection, GLETarget, Learning

matplotlib.use(os.environ.get('MPLBACKEND', 'Agg'))
import matplotlib.pyplot as plt  # noqa: E402

SMALL = os.environ.get('SMALL') == '1'
STANDALONE = '--standalone' in sys.argv
FIGURES = os.environ.get('GLE_TUTORIAL_FIGURES', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'figures'))
os.makedirs(FIGURES, exist_ok=True)
if STANDALONE:
    set_device('cpp_standalone', build_on_run=False)
else:
    prefs.codegen.target = 'numpy'
seed(7)                                   # the random numbers of the generated code (the read-out's spikes)
np.random.seed(7)                         # the drawn weights
defaultclock.dt = 0.05 * ms

# %% The network: our own input group, a fixed teacher, a learning student
stimulus = NeuronGroup(2, 'r : 1', name='stimulus')                 # any group with a rate r can drive GLE neurons
stimulus.run_regularly('r = sin(2*pi*t*(1 + i)/(20*ms))', when='start')
learning = Learning(Adam(lr=3e-4))
teacher_hidden = GLEGroup(8, 'tanh', tau_m=2 * ms, tau_r=0.5 * ms, name='teacher_hidden')
teacher_out = GLEGroup(1, tau_m=2 * ms, name='teacher_out')
student_hidden = GLEGroup(8, 'tanh', tau_m=2 * ms, tau_r=0.5 * ms, learning=learning, name='student_hidden')
student_out = GLEGroup(1, tau_m=2 * ms, learning=learning, name='student_out')
teacher_in = GLEProjection(stimulus, teacher_hidden, weights=np.random.uniform(-1.5, 1.5, (8, 2)))
teacher_up = GLEProjection(teacher_hidden, teacher_out, weights=np.random.uniform(-1, 1, (1, 8)))
student_in = GLEProjection(stimulus, student_hidden, learning=learning)   # drawn like PyTorch's nn.Linear
student_up = GLEProjection(student_hidden, student_out, learning=learning)
error = GLETarget(student_out, teacher_out.r, beta=1.0)             # the teacher's rate is the target

# %% Our own recording and a spiking read-out of the student's rate
traces = StateMonitor(student_out, ['r', 'err'], record=True, dt=0.5 * ms)
teacher_trace = StateMonitor(teacher_out, 'r', record=True, dt=0.5 * ms)
readout = NeuronGroup(1, '''rate = 40*Hz*(1 + tanh(r_student)) : Hz
                           r_student : 1 (linked)''', threshold='rand() < rate*dt', name='readout')
readout.r_student = linked_var(student_out, 'r')
spikes = SpikeMonitor(readout)

# %% Brian2's run(), several times: learning, then a test with plasticity off
epochs, epoch = (4, 100 * ms) if SMALL else (8, 250 * ms)
for _ in range(epochs):
    run(epoch)
for group in (student_hidden, student_out, student_in, student_up):
    group.learn(False)
run(epoch)
if STANDALONE:
    device.build(directory=os.path.join(tempfile.mkdtemp(prefix='gle_tutorial_e_'), 'project'))

# %% The error falls
t = traces.t / ms
mismatch = (teacher_trace.r[0] - traces.r[0]) ** 2
per_epoch = mismatch.reshape(epochs + 1, -1).mean(axis=1)
print('mean squared mismatch per run of', epoch, ':', ' '.join(f'{m:.2e}' for m in per_epoch))
print(f'learning: {per_epoch[0]:.2e} -> {per_epoch[-2]:.2e}; test run (plasticity off): {per_epoch[-1]:.2e}; '
      f'{spikes.num_spikes} read-out spikes')

fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True, constrained_layout=True)
axes[0].plot(t, teacher_trace.r[0], color='0.6', lw=2, label='teacher')
axes[0].plot(t, traces.r[0], color='C3', lw=1, label='student')
axes[0].set_ylabel('output rate r')
axes[0].legend(loc='upper right', frameon=False)
axes[1].semilogy(t, np.maximum(mismatch, 1e-12), color='C0', lw=0.5)
axes[1].set_ylabel('squared mismatch')
axes[2].plot(spikes.t / ms, np.zeros(spikes.num_spikes), '|', color='k', markersize=20)
axes[2].set_yticks([])
axes[2].set_ylabel('read-out spikes')
axes[2].set_xlabel('time (ms)')
for ax in axes:
    ax.axvline(epochs * epoch / ms, color='k', lw=0.8, ls='--')
axes[0].set_title('A GLE student learning a teacher inside a plain Brian2 script (dashed: plasticity off)')
fig.savefig(os.path.join(FIGURES, 'e_brian2_script.png'), dpi=150)
