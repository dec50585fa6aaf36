"""MNIST-1D end to end (paper Fig. 8, "GLE (15k)"): a plastic 6-layer GLE network classifies 1-D digits.

Each sample is 360 steps of one input channel (dt = 0.2 ms, 72 ms per sample; GLE_MODEL.md 2.3). Six
hidden layers of 53 units, each with 17 fast units (tau_m = 0.6 ms, tau_r = 0.2 ms), 18 slow ones
(1.2 ms, 0.2 ms) and 18 LE units (tau_m = tau_r = 1.2 ms); the first hidden layer is linear, the others
tanh; 10 linear LE output units (1.2 ms). Prospective errors, gamma = 0, biases, cross-entropy output
error beta*(onehot - softmax(r)) with beta = 1, Adam (lr 1e-3) stepping every dt on W and b, batches of
100 samples side by side, ReduceLROnPlateau on the test loss (patience 2, factor 0.5). The state is
never reset. Prediction: argmax of the output rates summed over the sample.

Outputs in ``--out``: ``metrics.json``, ``learning_curves.csv`` and ``.png``, ``confusion.png`` (test set,
last epoch) and ``checkpoint.npz`` (``--resume`` continues from it), all rewritten after every epoch.

Run::

    python -m models.mnist1d_e2e --epochs 5 --device cpp_standalone --out results/mnist1d_e2e
    python -m models.mnist1d_e2e --train 300 --test 200 --batch 20 --epochs 1      # a quick check
"""
import argparse
import csv
import os

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np
from brian2 import ms

from gle_brian import GLENetwork, Layer
from gle_brian.data import TimeSeriesData, mnist1d
from gle_brian.devices import DEVICES
from gle_brian.optimisers import Adam, Learning
from gle_brian.results import atomic_path, save_figure, write_json
from gle_brian.training import train

DT = 0.2 * ms
HIDDEN, DEPTH = 53, 6
GROUPS = ((17, 0.6 * ms, 0.2 * ms), (18, 1.2 * ms, 0.2 * ms), (18, 1.2 * ms))   # (count, tau_m, tau_r)
TAU_OUT = 1.2 * ms
REFERENCE_ACCURACY = {1: 0.135, 5: 0.377, 10: 0.458, 50: 0.877, 150: 0.917}   # GLE_MODEL.md 5, mean of 10 seeds


def layers():
    """The 6 x 53 hidden layers (first linear, then tanh) and the 10 linear LE outputs."""
    hidden = [Layer(HIDDEN, 'linear' if k == 0 else 'tanh', bias=True).with_groups(*GROUPS) for k in range(DEPTH)]
    return hidden + [Layer(10, tau_m=TAU_OUT, bias=True)]


def build(device, batch, seed, lr=1e-3, directory=None):
    """The network: CE output error, Adam on W and b every step, output rates recorded."""
    return GLENetwork(1, layers(), dt=DT, device=device, loss='ce', beta=1.0, seed=seed, batch=batch,
                      learning=Learning(Adam(lr=lr)), record=['r'], record_layers=[-1], directory=directory)


def subset(data, n):
    return data if n is None else TimeSeriesData(data.x[:n], data.y[:n], classes=data.classes)


def write_outputs(out, history, test, meta):
    """Metrics JSON, learning curves (CSV and PNG) and the confusion matrix of the last test."""
    write_json(os.path.join(out, 'metrics.json'), dict(meta, history=history, final=history[-1]))
    reference = [(int(e), a) for e, a in meta['reference_test_accuracy'].items() if int(e) <= history[-1]['epoch']]
    with atomic_path(os.path.join(out, 'learning_curves.csv')) as temporary, open(temporary, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    epochs = [h['epoch'] for h in history]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), layout='constrained')
    for split in ('train', 'test'):
        axes[0].plot(epochs, [h[f'{split}_loss'] for h in history], 'o-', label=split)
        axes[1].plot(epochs, [100 * h[f'{split}_accuracy'] for h in history], 'o-', label=split)
    if reference:
        axes[1].plot(*zip(*[(e, 100 * a) for e, a in reference]), 'k*', label='reference (test, mean)')
    axes[0].set(xlabel='epoch', ylabel='cross-entropy')
    axes[1].set(xlabel='epoch', ylabel='accuracy (%)')
    axes[1].axhline(10, color='grey', lw=0.5)
    axes[1].legend()
    save_figure(fig, os.path.join(out, 'learning_curves.png'), dpi=120)
    plt.close(fig)
    confusion = np.zeros((10, 10), dtype=int)
    np.add.at(confusion, (test['labels'], test['predictions']), 1)
    fig, ax = plt.subplots(figsize=(4.5, 4), layout='constrained')
    image = ax.imshow(confusion, cmap='Blues')
    ax.set(xlabel='predicted', ylabel='true', xticks=range(10), yticks=range(10),
           title=f"test, epoch {history[-1]['epoch']}: {100 * history[-1]['test_accuracy']:.1f} %")
    fig.colorbar(image, ax=ax)
    save_figure(fig, os.path.join(out, 'confusion.png'), dpi=120)
    plt.close(fig)


def run(epochs=1, device='cpp_standalone', batch=100, seed=0, n_train=None, n_test=None, out='results/mnist1d_e2e',
        resume=False, progress=True, model=None):
    """Train and test; returns the history (one dict per epoch, see :func:`gle_brian.training.train`).

    ``model`` is the module whose ``build(device, batch, seed)`` makes the network (default: this one).
    """
    model = model or __import__(__name__, fromlist=['build'])
    train_set, test_set = mnist1d()
    train_set, test_set = subset(train_set, n_train), subset(test_set, n_test)
    net = model.build(device, batch, seed)
    meta = {'model': model_name(model), 'device': device, 'batch': batch, 'seed': seed, 'train_samples': len(train_set),
            'test_samples': len(test_set), 'steps_per_sample': train_set.steps, 'dt_ms': float(DT / ms),
            'parameters': int(sum(w.size for w in net.weights) + sum(b.size for b in net.biases)),
            'reference_test_accuracy': model.REFERENCE_ACCURACY}
    return train(net, train_set, test_set, epochs, seed=seed, checkpoint=os.path.join(out, 'checkpoint.npz'),
                 resume=resume, progress=progress,
                 on_epoch=lambda history, test: write_outputs(out, history, test, meta))


def model_name(model):
    """The model's file name (also when it runs as ``__main__``)."""
    return os.path.splitext(os.path.basename(model.__file__))[0]


def main(argv=None, model=None):
    """Command line of this model, or of ``model`` (a module with ``build`` and a docstring)."""
    model = model or __import__(__name__, fromlist=['build'])
    name = model_name(model)
    parser = argparse.ArgumentParser(description=model.__doc__.split('\n')[0])
    parser.add_argument('--epochs', type=int, default=5)
    parser.add_argument('--device', default='cpp_standalone', choices=DEVICES)
    parser.add_argument('--batch', type=int, default=100, help='samples side by side (reference: 100)')
    parser.add_argument('--seed', type=int, default=12, help='weight initialisation and shuffling')
    parser.add_argument('--train', type=int, default=None, help='use only the first N training samples')
    parser.add_argument('--test', type=int, default=None, help='use only the first N test samples')
    parser.add_argument('--resume', action='store_true', help='continue from OUT/checkpoint.npz')
    parser.add_argument('--out', default=f'results/{name}')
    args = parser.parse_args(argv)
    history = run(args.epochs, args.device, args.batch, args.seed, args.train, args.test, args.out, args.resume,
                  model=model)
    last = history[-1]
    print(f"{name}: epoch {last['epoch']}, test accuracy {100 * last['test_accuracy']:.1f} % "
          f"(chance 10 %), {last['seconds']:.0f} s per epoch on {args.device}")


if __name__ == '__main__':
    main()
