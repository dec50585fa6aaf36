"""Tutorial (b): learning a lagged teacher (LagLine, paper Fig. 5).

A teacher chain of two softplus neurons, w = (1, 2) and tau_m = (1, 2) ms, both looking ahead by
tau_r = 0.1 ms, turns a smoothed step signal into its output. A student chain of the same shape starts
from random w and tau_m and learns all four from the output error alone, with local plasticity:
dW ~ err_post r_pre and dtau_m ~ -err du/dt, Adam, every time step. With GLE's prospective errors
("gle") the student recovers the teacher; with instantaneous errors ("bp") the errors arrive out of
phase with the lagged neurons and learning stalls.

Units: 1 a.u. of the model = 1 ms. Run it as a script from the checkout::

    python tutorials/b_lagline.py            # 1000 ms of training, batch 10 (about a minute)
    SMALL=1 python tutorials/b_lagline.py    # a quick, smaller version (used by the tests)

The full experiment of the paper (4000 ms, batch 100) is ``gle-brian lagline --batch 100``.
"""
# %% Setup
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # the checkout's models/
from models import lagline  # noqa: E402

SMALL = os.environ.get('SMALL') == '1'
FIGURES = os.environ.get('GLE_TUTORIAL_FIGURES', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'figures'))
os.makedirs(FIGURES, exist_ok=True)
# SMALL: a short run on numpy, which needs no compilation; else compiled C++ (a project per variant).
# init: ms of running before learning starts (the student settles on its input; in runs of 25 ms).
train, init, batch, device = (25.0, 0.0, 2, 'numpy') if SMALL else (1000.0, 50.0, 10, 'cpp_standalone')

# %% Train a GLE student and one with instantaneous errors, on the same input and initial weights
results = [lagline.run(variant, train=train, init=init, device=device, batch=batch) for variant in ('gle', 'bp')]
for metrics, _ in results:
    print(f"{metrics['variant']}: loss {metrics['loss_start']:.1e} -> {metrics['loss_end']:.1e}; "
          f"w = ({metrics['w'][0]:.3f}, {metrics['w'][1]:.3f}), tau_m = ({metrics['tau_m_ms'][0]:.3f}, "
          f"{metrics['tau_m_ms'][1]:.3f}) ms (teacher: (1, 2) and (1, 2) ms)")

# %% Loss on log-log axes, trajectories of w and tau_m, and the output next to the teacher's
lagline.plot(results, os.path.join(FIGURES, 'b_lagline.png'))
print(f'figure in {FIGURES}')
