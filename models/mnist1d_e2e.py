"""MNIST-1D end to end (paper Fig. 8, "GLE (15k)"): a plastic 6-layer GLE network classifies 1-D digits.

Each sample is 360 steps of one input channel (dt = 0.2 ms, 72 ms per sample; docs/model.rst, section
'MNIST-1D end to end'). Six hidden layers of 53 units, each with 18 fast lagged units (tau_m = 0.6 ms,
tau_r = 0.2 ms), 18 slow ones (1.2 ms, 0.2 ms) and 17 LE units (tau_m = tau_r = 1.2 ms); the first hidden layer is
linear, the others tanh; 10 linear LE output units (1.2 ms). Prospective errors, gamma = 0, biases,
cross-entropy output error beta*(onehot - softmax(r)) with beta = 1, Adam (lr 1e-3) stepping every dt on W
and b, batches of 100 samples side by side, ReduceLROnPlateau on the test loss (patience 2, factor 0.5, and
PyTorch's eps 1e-8: the rate stops at 1.5e-8). The state is never reset. Prediction: argmax of the output rates
summed over the sample.

Outputs in ``--out``: ``metrics.json``, ``learning_curves.csv`` and ``.png`` (epoch 0: the test before
training), ``confusion.png`` and ``outputs.png`` (output traces of four test samples; both of the last
epoch) and ``checkpoint.npz`` (``--resume`` continues from it), all rewritten after every epoch.

Run::

    python -m models.mnist1d_e2e --epochs 5 --device cpp_standalone --out results/mnist1d_e2e
    python -m models.mnist1d_e2e --train 300 --test 200 --batch 20 --epochs 1      # a quick check
    python -m models.mnist1d_e2e --batch 1 --chunks-per-run 100 --epochs 1         # online learning
"""
import argparse
import csv
import importlib
import inspect
import os

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np
from brian2 import ms

from gle_brian import GLENetwork, Layer
from gle_brian.cli import non_negative_int, output_folder, positive_int
from gle_brian.data import TimeSeriesData, mnist1d
from gle_brian.devices import DEVICES
from gle_brian.network import PRECISIONS
from gle_brian.optimisers import Adam, Learning
from gle_brian.results import atomic_path, save_figure, write_json
from gle_brian.sweep import write_progress
from gle_brian.training import train
from models import REFERENCE

DT = 0.2 * ms
HIDDEN, DEPTH = 53, 6
# (count, tau_m, tau_r): the published code's 36 lagged units (tau_r = dt), the first half of them with tau_m / 2,
# then its 17 LE units
GROUPS = ((18, 0.6 * ms, 0.2 * ms), (18, 1.2 * ms, 0.2 * ms), (17, 1.2 * ms))
TAU_OUT = 1.2 * ms
LR = 1e-3                             # Adam's learning rate (the published 5e-3 times 72 / 360, per step)
RESET_LAYERS = ()                     # layers started from rest for every chunk (none: the state carries over)
# test accuracy of the reference after these epochs, mean of 10 seeds (docs/model.rst, 'Reference results')
REFERENCE_ACCURACY = {1: 0.135, 5: 0.377, 10: 0.458, 50: 0.877, 150: 0.917}
# sweeps (gle_brian.sweep): the metric of the band figure, and the published runs' band (10 seeds, in percent)
SWEEP_METRIC = 'test_accuracy'
REFERENCE_CURVE = os.path.join(REFERENCE, 'mnist1d_e2e_test_accuracy.csv')
REFERENCE_SCALE = 0.01


def layers(hidden=HIDDEN, groups=GROUPS):
    """The 6 hidden layers of ``hidden`` units with time constants ``groups`` (first linear, then tanh) and the
    10 linear LE outputs."""
    layers = [Layer(hidden, 'linear' if k == 0 else 'tanh', bias=True).with_groups(*groups) for k in range(DEPTH)]
    return layers + [Layer(10, tau_m=TAU_OUT, bias=True)]


def build(device, batch, seed, lr=LR, directory=None, precision='double', projection=None, hidden=HIDDEN,
          groups=GROUPS):
    """The network (hidden layers as :func:`layers`): CE output error, Adam on W and b every step, output rates
    recorded."""
    return GLENetwork(1, layers(hidden, groups), dt=DT, device=device, loss='ce', beta=1.0, seed=seed, batch=batch,
                      learning=Learning(Adam(lr=lr)), record=['r'], record_layers=[-1], directory=directory,
                      precision=precision, projection=projection)


def subset(data, n):
    return data if n is None else TimeSeriesData(data.x[:n], data.y[:n], classes=data.classes)


def write_outputs(out, history, test, meta):
    """Metrics JSON, learning curves (CSV and PNG), the confusion matrix and output traces of the last test."""
    write_json(os.path.join(out, 'metrics.json'), dict(meta, history=history, final=history[-1]))
    with atomic_path(os.path.join(out, 'learning_curves.csv')) as temporary, open(temporary, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    last = history[-1]['epoch']
    for name, fig in (('learning_curves', learning_curves(history, meta['reference_test_accuracy'])),
                      ('confusion', confusion(test, last)), ('outputs', output_traces(test, last))):
        save_figure(fig, os.path.join(out, f'{name}.png'), dpi=120)
        plt.close(fig)


def learning_curves(history, reference):
    """Loss and accuracy per epoch (train and test) with the reference's mean test accuracy."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), layout='constrained')
    for split in ('train', 'test'):
        points = [h for h in history if h[f'{split}_loss'] is not None]
        epochs = [h['epoch'] for h in points]
        axes[0].plot(epochs, [h[f'{split}_loss'] for h in points], 'o-', ms=3, label=split)
        axes[1].plot(epochs, [100 * h[f'{split}_accuracy'] for h in points], 'o-', ms=3, label=split)
    shown = [(int(e), 100 * a) for e, a in reference.items() if int(e) <= history[-1]['epoch']]
    if shown:
        axes[1].plot(*zip(*shown), 'k*', ms=9, label='reference (test, mean of 10 seeds)')
    axes[0].set(xlabel='epoch', ylabel='cross-entropy')
    axes[1].set(xlabel='epoch', ylabel='accuracy (%)', ylim=(0, 100))
    axes[1].axhline(10, color='grey', lw=0.5)
    axes[1].legend()
    return fig


def confusion(test, epoch):
    """Confusion matrix of the test set."""
    counts = np.zeros((10, 10), dtype=int)
    np.add.at(counts, (test['labels'], test['predictions']), 1)
    fig, ax = plt.subplots(figsize=(4.5, 4), layout='constrained')
    image = ax.imshow(counts, cmap='Blues')
    ax.set(xlabel='predicted', ylabel='true', xticks=range(10), yticks=range(10),
           title=f"test, epoch {epoch}: {100 * test['accuracy']:.1f} %")
    fig.colorbar(image, ax=ax, label='samples')
    return fig


def output_traces(test, epoch, samples=4):
    """The 10 output rates over the first test samples; the true class in black, the others in colour."""
    outputs = test['outputs']
    t = np.arange(len(outputs)) * float(DT / ms)
    shown = min(samples, outputs.shape[1])
    fig, axes = plt.subplots(1, shown, figsize=(3 * shown, 2.8), sharey=True, layout='constrained', squeeze=False)
    for k, ax in enumerate(axes[0]):
        label, predicted = test['labels'][k], test['predictions'][k]
        for c in range(outputs.shape[2]):
            ax.plot(t, outputs[:, k, c], color='k' if c == label else plt.cm.tab10(c), lw=2 if c == label else 0.8,
                    label=str(c))
        ax.set(xlabel='time in sample (ms)', title=f'digit {label}, predicted {predicted}')
    axes[0, 0].set(ylabel='output rate r (logit)')
    axes[0, -1].legend(fontsize=6, ncol=2, title='class', title_fontsize=6)
    fig.suptitle(f'test outputs, epoch {epoch}', fontsize=9)
    return fig


def run(epochs=1, device='cpp_standalone', batch=100, seed=0, n_train=None, n_test=None, out='results/mnist1d_e2e',
        resume=False, progress=True, model=None, precision='double', chunks_per_run=1, lr=None, on_epoch=None):
    """Train and test; returns the history (one dict per epoch, see :func:`gle_brian.training.train`).

    ``model`` is the module whose ``build(device, batch, seed, precision=...)`` makes the network (default: this
    one); ``precision`` is ``'double'`` or ``'single'`` (see :class:`~gle_brian.GLENetwork`); ``chunks_per_run``
    chunks of ``batch`` samples follow each other in one run (e.g. 100 at batch 1: online learning, 40 runs
    per epoch); ``lr`` is Adam's learning rate (default: the model's ``LR``); ``on_epoch(history)`` is called
    after each epoch's outputs are written.
    """
    model = model or __import__(__name__, fromlist=['build'])
    lr = model.LR if lr is None else lr
    train_set, test_set = mnist1d()
    train_set, test_set = subset(train_set, n_train), subset(test_set, n_test)
    net = model.build(device, batch, seed, lr=lr, precision=precision)
    meta = {'model': model_name(model), 'device': device, 'precision': precision, 'batch': batch, 'lr': lr,
            'chunks_per_run': chunks_per_run, 'seed': seed,
            'train_samples': len(train_set), 'test_samples': len(test_set), 'steps_per_sample': train_set.steps,
            'dt_ms': float(DT / ms),
            'parameters': int(sum(w.size for w in net.weights) + sum(b.size for b in net.biases)),
            'reference_test_accuracy': model.REFERENCE_ACCURACY}

    def after_epoch(history, test):
        write_outputs(out, history, test, meta)
        if on_epoch is not None:
            on_epoch(history)
    return train(net, train_set, test_set, epochs, seed=seed, checkpoint=os.path.join(out, 'checkpoint.npz'),
                 resume=resume, progress=progress, reset_layers=model.RESET_LAYERS, chunks_per_run=chunks_per_run,
                 on_epoch=after_epoch)


def task(out, epochs=150, seed=12, device='cpp_standalone', batch=100, lr=None, n_train=None, n_test=None,
         precision='double', chunks_per_run=1, model=None):
    """One task of a sweep (:mod:`gle_brian.sweep`): :func:`run` in the folder ``out``, resuming from its
    checkpoint, its rows so far in ``progress.json`` after every epoch; returns the history (one row per epoch)."""
    return run(epochs, device, batch, seed, n_train, n_test, out, resume=True, progress=False, model=model,
               precision=precision, chunks_per_run=chunks_per_run, lr=lr,
               on_epoch=lambda history: write_progress(out, history))


def task_of(name):
    """The sweep task of the MNIST-1D model module ``name`` (one with ``build``, ``LR``, ...): :func:`task` with
    that model, taking the same parameters but ``model``. In the module: ``task = mnist1d_e2e.task_of(__name__)``."""
    def model_task(out, **params):
        return task(out, model=importlib.import_module(name), **params)
    signature = inspect.signature(task)
    model_task.__signature__ = signature.replace(parameters=[p for p in signature.parameters.values()
                                                             if p.name != 'model'])
    model_task.__doc__ = f'One task of a sweep: :func:`models.mnist1d_e2e.task` with the model {name}.'
    model_task.__module__, model_task.__name__, model_task.__qualname__ = name, 'task', 'task'
    return model_task


def model_name(model):
    """The model's file name (also when it runs as ``__main__``)."""
    return os.path.splitext(os.path.basename(model.__file__))[0]


def main(argv=None, model=None):
    """Command line of this model, or of ``model`` (a module with ``build`` and a docstring)."""
    model = model or __import__(__name__, fromlist=['build'])
    name = model_name(model)
    parser = argparse.ArgumentParser(description=model.__doc__.split('\n')[0])
    parser.add_argument('--epochs', type=non_negative_int, default=5, help='0: only the test before training')
    parser.add_argument('--device', default='cpp_standalone', choices=DEVICES)
    parser.add_argument('--batch', type=positive_int, default=100, help='samples side by side (reference: 100)')
    parser.add_argument('--seed', type=non_negative_int, default=12, help='weight initialisation and shuffling')
    parser.add_argument('--train', type=positive_int, default=None, help='use only the first N training samples')
    parser.add_argument('--test', type=positive_int, default=None, help='use only the first N test samples')
    parser.add_argument('--precision', default='double', choices=list(PRECISIONS),
                        help='floating-point type: double (64 bit) or single (32 bit, as the published code)')
    parser.add_argument('--chunks-per-run', type=positive_int, default=1,
                        help='chunks of BATCH samples one after the other in one run (e.g. 100 with --batch 1)')
    parser.add_argument('--resume', action='store_true', help='continue from OUT/checkpoint.npz')
    parser.add_argument('--out', type=output_folder, default=f'results/{name}')
    args = parser.parse_args(argv)
    history = run(args.epochs, args.device, args.batch, args.seed, args.train, args.test, args.out, args.resume,
                  model=model, precision=args.precision, chunks_per_run=args.chunks_per_run)
    last = history[-1]
    print(f"{name}: epoch {last['epoch']}, test accuracy {100 * last['test_accuracy']:.1f} % "
          f"(chance 10 %), {last['seconds']:.0f} s per epoch on {args.device}")


if __name__ == '__main__':
    main()
