"""Task functions of the sweep tests (imported by the tasks' own processes): the toy network of
test_training, trained on numpy with a checkpoint after every epoch."""
import json
import os
import time

import numpy as np

from gle_brian.training import train
from test_training import toy_data, toy_net


def toy(out, seed, lr=0.05, epochs=3, pause=0.0):
    """``epochs`` epochs of the toy network (shuffling ``seed``, learning rate ``lr``), resumed from
    ``out/checkpoint.npz`` (and says so in its output); waits ``pause`` seconds after each epoch (time to kill its
    worker)."""
    checkpoint = os.path.join(out, 'checkpoint.npz')
    if os.path.exists(checkpoint):
        with np.load(checkpoint) as f:
            print('resuming after epoch', json.loads(str(f['meta']))['epoch'], flush=True)
    net = toy_net('numpy')
    net.set_learning_rate(lr)
    history = train(net, toy_data(6, seed), toy_data(3, 100 + seed), epochs, seed=seed, progress=False,
                    checkpoint=checkpoint, resume=True,
                    on_epoch=lambda history, test: time.sleep(pause))
    return [{key: value for key, value in row.items() if 'seconds' not in key} for row in history]


def failing(out, seed):
    """A task that fails for seed 2."""
    if seed == 2:
        raise ValueError('seed 2 does not work')
    return {'value': seed * 10}


def echo(out, value):
    """The value a task received, as Python writes it, and its type."""
    return {'got': repr(value), 'type': type(value).__name__}
