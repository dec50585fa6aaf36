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
from brian2 import (NeuronGroup, SpikeMonitor, StateMonitor, defaultclock, device, linked_var, ms, prefs, run,
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
epochs, epoch = (2, 200 * ms) if SMALL else (8, 250 * ms)   # each run() of a standalone script compiles its own code
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

fig = plt.figure(figsize=(9, 7), constrained_layout=True)
grid = fig.add_gridspec(3, 2)
window = 60                                                          # ms shown at the start and at the end
for column, (start, title) in enumerate([(0, 'learning starts'), (t[-1] - window, 'test run, plasticity off')]):
    ax = fig.add_subplot(grid[0, column])
    shown = (t >= start) & (t <= start + window)
    ax.plot(t[shown], teacher_trace.r[0][shown], color='0.6', lw=2.5, label='teacher')
    ax.plot(t[shown], traces.r[0][shown], color='C3', lw=1, label='student')
    ax.set_title(title)
    ax.set_xlabel('time (ms)')
    if column == 0:
        ax.set_ylabel('output rate r')
        ax.legend(loc='upper right', frameon=False, fontsize=8)
ax = fig.add_subplot(grid[1, :])
ends = np.arange(1, epochs + 2) * epoch / ms
ax.semilogy(ends[:-1], per_epoch[:-1], 'o-', color='C0', label='learning')
ax.semilogy(ends[-1:], per_epoch[-1:], 's', color='C3', label='plasticity off')
ax.set_ylabel('mean squared mismatch\nper run')
ax.set_xlabel('end of run (ms)')
ax.legend(frameon=False, fontsize=8)
ax = fig.add_subplot(grid[2, :])
ax.plot(spikes.t / ms, np.zeros(spikes.num_spikes), '|', color='k', markersize=20)
ax.axvline(epochs * epoch / ms, color='k', lw=0.8, ls='--')
ax.set_yticks([])
ax.set_ylabel('read-out\nspikes')
ax.set_xlabel('time (ms); dashed: plasticity off')
fig.suptitle('A GLE student learning a teacher inside a plain Brian2 script')
fig.savefig(os.path.join(FIGURES, 'e_brian2_script.png'), dpi=150)
