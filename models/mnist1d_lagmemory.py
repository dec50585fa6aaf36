"""MNIST-1D with a fixed lag memory: a static GLE LagNet feeds a plastic LE classifier.

See docs/model.rst, section 'MNIST-1D with a lag memory'.

Memory (not learned): 1 -> 10 -> 10 -> 10 -> 10 linear neurons, W1 = ones, W2..W4 = identity, no bias,
tau_r = dt = 0.2 ms and tau_m = round(linspace(0.2, 1.8, 10), 2) ms per channel: each channel is the input
through four cascaded leaky integrators (mean delay 4 tau_m). Classifier: 10 -> 60 -> 60 -> 10, tanh,
linear output, LE with tau_m = tau_r = 2 ms, gamma = 0, instantaneous errors, biases. Cross-entropy
(beta = 1), Adam lr 1e-3 on the classifier only (learning rate 0 on the memory), batches of 100,
ReduceLROnPlateau, summed-rate prediction, as :mod:`models.mnist1d_e2e`. As in the reference, the memory
starts every chunk of samples from rest (the reference builds a new one per batch); the classifier's
state carries over.

Run::

    python -m models.mnist1d_lagmemory --epochs 5 --device cpp_standalone --out results/mnist1d_lagmemory
"""
import os
import sys

import numpy as np
from brian2 import ms

from gle_brian import GLENetwork, Layer, init_weights
from gle_brian.optimisers import Adam, Learning
from models import REFERENCE, mnist1d_e2e

DT = mnist1d_e2e.DT
CHANNELS, STAGES = 10, 4
TAU_MEMORY = np.round(np.linspace(0.2, 1.8, CHANNELS), 2) * ms
HIDDEN, TAU = 60, 2.0 * ms
LR = 1e-3                             # Adam's learning rate (the published 5e-3 times 72 / 360, per step)
RESET_LAYERS = tuple(range(STAGES))   # the memory starts every chunk from rest
REFERENCE_ACCURACY = {150: 0.909}     # docs/model.rst, 'Reference results' (10 seeds)
SWEEP_METRIC = mnist1d_e2e.SWEEP_METRIC
REFERENCE_CURVE = os.path.join(REFERENCE, 'mnist1d_lagmemory_test_accuracy.csv')
REFERENCE_SCALE = mnist1d_e2e.REFERENCE_SCALE


def layers():
    memory = [Layer(CHANNELS, tau_m=TAU_MEMORY, tau_r=DT) for _ in range(STAGES)]
    classifier = [Layer(HIDDEN, 'tanh', tau_m=TAU, bias=True, prospective_errors=False) for _ in range(2)]
    return memory + classifier + [Layer(10, tau_m=TAU, bias=True, prospective_errors=False)]


def build(device, batch, seed, lr=LR, precision='double'):
    """The network; the classifier's weights drawn as PyTorch's ``nn.Linear`` with ``seed``."""
    memory = [np.ones((CHANNELS, 1))] + [np.eye(CHANNELS)] * (STAGES - 1)
    return GLENetwork(1, layers(), dt=DT, device=device, loss='ce', beta=1.0,
                      weights=memory + init_weights([CHANNELS, HIDDEN, HIDDEN, 10], seed), batch=batch,
                      learning=Learning(Adam(lr=lr), lr=[0.0] * STAGES + [lr] * 3), record=['r'], record_layers=[-1],
                      precision=precision)


task = mnist1d_e2e.task_of(__name__)


def main(argv=None):
    mnist1d_e2e.main(argv, model=sys.modules[__name__])


if __name__ == '__main__':
    main()
