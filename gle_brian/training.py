"""Training a GLE classifier on a labelled time-series data set, compiling the network once.

Samples are run in chunks of ``net.batch`` samples side by side, each chunk one :meth:`GLENetwork.run`
of ``data.steps`` steps, or ``chunks_per_run`` chunks one after the other in one run (online learning at
batch 1: many samples per run). Every run therefore has the same length, so a standalone network is
compiled on the first run and its binary is rerun for every run of every epoch, training and testing
alike. The state is never reset (docs/model.rst, section 'Batches and state'): it carries over between samples,
from training into testing and across epochs; only the layers named in ``reset_layers`` (e.g. a fixed
memory, which the reference rebuilds for every batch) start every chunk from rest.

Testing follows the reference, which tests all samples in one batch of 1000 whose state is the training
state tiled, and afterwards truncates that batch back to the training batch: every test run starts from
the state the training left, and training continues from the end state of the first test run (with
``chunks_per_run > 1``, the chunks inside a test run follow each other, as in training). Test
runs have no target (no output error, nothing learned). The set is tested once before the first epoch.

Per epoch: the training set in a shuffled order (learning on; an incomplete last run is left out), then
the test set (the last run is filled up with repeated samples, whose outputs are ignored). The network's
output at a step is the output rate stored before the step (the reference's return value); the prediction
for a sample is the argmax over classes of these outputs summed over its steps, the loss the
cross-entropy of their softmax against the label, averaged over the steps. ReduceLROnPlateau scales the
learning rates by ``factor`` when the test loss has not improved for ``patience`` epochs, down to a floor. After every
epoch a checkpoint (network state, epoch, metrics, random-generator and schedule state) is written
atomically; ``resume=True`` continues from it bit for bit.

Example::

    >>> from brian2 import ms
    >>> from gle_brian import Adam, GLENetwork, Layer, Learning
    >>> from gle_brian.data import mnist1d
    >>> from gle_brian.training import train
    >>> train_set, test_set = mnist1d()
    >>> net = GLENetwork(1, [Layer(53, 'tanh', tau_m=1.2*ms, bias=True), Layer(10, tau_m=1.2*ms, bias=True)],
    ...                  dt=0.2*ms, loss='ce', learning=Learning(Adam(lr=1e-3)), batch=100,
    ...                  record=['r'], record_layers=[-1])                    # doctest: +SKIP
    >>> history = train(net, train_set, test_set, epochs=5, checkpoint='out/checkpoint.npz')  # doctest: +SKIP
"""
import os
import time

import numpy as np
from tqdm.auto import tqdm

from .checkpoints import FIX, load_checkpoint, save_checkpoint
from .errors import GLEConfigError, GLEInputError
from .results import check_destination

__all__ = ['train', 'evaluate', 'ReduceLROnPlateau', 'cross_entropy', 'save_checkpoint', 'load_checkpoint',
           'RUNS_PER_CALL']

#: training runs given to a compiled cpp_standalone network in one ``net.run`` (its binary runs any number of steps,
#: :mod:`gle_brian.streaming`; the state carries over as between runs, so the numbers are the same)
RUNS_PER_CALL = 10


class ReduceLROnPlateau:
    """Scale the learning rates by ``factor`` when a loss has not improved for ``patience`` epochs.

    As PyTorch's ``ReduceLROnPlateau`` on one parameter group with learning rate ``lr``: an improvement is a
    loss below ``best * (1 - threshold)`` (relative mode), and a reduction that would lower the rate by
    ``min_decay`` or less (PyTorch's ``eps``, 1e-8 by default) is skipped, so the rate stops at a floor of at most
    ``min_decay / (1 - factor)`` (1e-8 to 2e-8 at factor 0.5). ``scale`` is the current factor on the initial
    rates; with different rates per layer, ``lr`` is the largest (the floor is decided by it).

    Example: ``ReduceLROnPlateau(lr=1e-3)`` halves 1e-3 at most 16 times (to 1.53e-8).
    """

    def __init__(self, lr, patience=2, factor=0.5, threshold=1e-4, min_decay=1e-8):
        self.lr, self.min_decay = float(lr), float(min_decay)
        self.patience, self.factor, self.threshold = int(patience), float(factor), float(threshold)
        self.best, self.bad_epochs, self.scale = np.inf, 0, 1.0

    def step(self, loss):
        """Record the epoch's loss; returns True when the learning rates were just reduced."""
        if loss < self.best * (1 - self.threshold):
            self.best, self.bad_epochs = float(loss), 0
            return False
        self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            self.bad_epochs = 0
            if self.lr * self.scale * (1 - self.factor) > self.min_decay:
                self.scale *= self.factor
                return True
        return False

    def state(self):
        return {'best': self.best, 'bad_epochs': self.bad_epochs, 'scale': self.scale}

    def load(self, state):
        self.best, self.bad_epochs, self.scale = float(state['best']), int(state['bad_epochs']), float(state['scale'])


def cross_entropy(rates, labels):
    """Per-sample cross-entropy of ``softmax(rates)`` against ``labels``, averaged over the steps.

    ``rates`` has shape ``(steps, samples, classes)``; returns an array ``(samples,)``.
    """
    top = rates.max(axis=2, keepdims=True)
    log_z = np.log(np.exp(rates - top).sum(axis=2)) + top[..., 0]
    picked = np.take_along_axis(rates, labels[None, :, None], axis=2)[..., 0]
    return (log_z - picked).mean(axis=0)


def _check(net, data, chunks_per_run=1, reset_layers=()):
    if not isinstance(chunks_per_run, (int, np.integer)) or isinstance(chunks_per_run, bool) or chunks_per_run < 1:
        raise GLEConfigError(f'chunks_per_run={chunks_per_run!r} must be a positive integer (1: one chunk of '
                             'net.batch samples per run).')
    if reset_layers and chunks_per_run > 1:
        raise GLEConfigError(f'reset_layers={list(reset_layers)} start every chunk from rest, which happens between '
                             f'runs only: use chunks_per_run=1 (not {chunks_per_run}), or no reset_layers.')
    if net.loss is None:
        raise GLEConfigError("the network has no loss; build it with loss='ce' (or 'mse') to train it.")
    if 'r' not in net.record or len(net.layers) - 1 not in net.record_layers:
        raise GLEConfigError("training reads the output rates: build the network with record=['r'] "
                             '(record_layers=[-1] records only the output layer).')
    if (net.n_in, net.layers[-1].size) != (data.channels, data.classes):
        raise GLEConfigError(f'the network has {net.n_in} inputs and {net.layers[-1].size} outputs, the data '
                             f'{data.channels} channels and {data.classes} classes; make them match.')
    if net.steps_per_run not in (None, chunks_per_run * data.steps):
        raise GLEConfigError(f'the network was compiled for {net.steps_per_run} steps per run, and '
                             f'chunks_per_run={chunks_per_run} chunks of {data.steps}-step samples make '
                             f'{chunks_per_run * data.steps}; build a new network, or give the same chunks_per_run.')


def _run_chunks(net, data, chunks, learn, reset_layers=()):
    """Run chunks of ``net.batch`` samples side by side, the chunks one after the other in one run.

    ``chunks`` is a list of index arrays. Returns the outputs ``(steps, batch, classes)`` of each chunk. The
    output at step n is the rate stored before the step, as the reference's network returns it.
    """
    batches = [data.batch(indices) for indices in chunks]
    x = np.concatenate([x for x, _ in batches])
    target = np.concatenate([np.broadcast_to(np.eye(data.classes)[labels], (data.steps, len(labels), data.classes))
                             for _, labels in batches])
    before = net.rates(-1)
    if reset_layers:
        net.reset_state(reset_layers)
    # evaluation with the errors at rest (no feedback to compute) where they cannot reach the rates (gamma = 0)
    net.run(x, target if learn else None, learn=learn, inference=not learn and not net.nudged_layers)
    after = net.trace('r', -1).reshape(len(x), net.batch, data.classes)
    outputs = np.concatenate([before[None], after[:-1]])
    return np.split(outputs, len(chunks))


def _metrics(rates, labels):
    return cross_entropy(rates, labels), rates.sum(axis=0).argmax(axis=1)


def evaluate(net, data, progress=False, reset_layers=(), chunks_per_run=1):
    """Test ``net`` on ``data``; returns ``{'loss', 'accuracy', 'predictions', 'labels', 'outputs'}``.

    ``outputs`` are the outputs of the first chunk's samples, shape ``(steps, samples, classes)``.

    Every run starts from the network's present state, without a target, so nothing is learned;
    afterwards the network holds the end state of the first run (see the module's description). Where no layer's
    soma feels its errors (``gamma = 0``), the runs start with the errors at rest (``net.run(..., inference=True)``):
    the outputs are the same, the feedback is not computed, and the end state has its errors at zero. With
    ``chunks_per_run > 1`` the chunks of one run follow each other, each from the end state of the one before.
    """
    _check(net, data, chunks_per_run, reset_layers)
    B, n = net.batch, len(data)
    per_run = B * chunks_per_run
    order = np.resize(np.arange(n), -(-n // per_run) * per_run)       # the last run filled up from the start
    start_state = net.get_state() if net.started and n > per_run else None     # None: at rest
    first_end = None
    losses, predictions = [], []
    for start in tqdm(range(0, len(order), per_run), desc='test', leave=False, disable=not progress):
        if start:
            first_end = first_end or net.get_state()
            if start_state is None:
                net.reset_state()
            else:
                net.set_state(start_state)
        chunks = np.split(order[start:start + per_run], chunks_per_run)
        for indices, rates in zip(chunks, _run_chunks(net, data, chunks, False, reset_layers)):
            loss, prediction = _metrics(rates, data.y[indices])
            if not losses:
                outputs = rates
            losses.append(loss)
            predictions.append(prediction)
    if first_end is not None:
        net.set_state(first_end)
    losses, predictions = np.concatenate(losses)[:n], np.concatenate(predictions)[:n]
    return {'loss': float(losses.mean()), 'accuracy': float((predictions == data.y).mean()),
            'predictions': predictions, 'labels': data.y.copy(), 'outputs': outputs[:, :n]}


def _training_state(meta, path, net):
    """The training state in a checkpoint's ``meta`` (random generator, plateau schedule, base learning rates,
    history), each checked by use on a copy; a missing or malformed entry raises :class:`GLEInputError` naming it,
    before the network is changed."""
    entry = None
    try:
        entry = 'rng'
        np.random.default_rng().bit_generator.state = meta['rng']
        entry = 'plateau'
        ReduceLROnPlateau(lr=1).load(meta['plateau'])
        entry = 'base_rates'
        rates = [float(rate) for rate in meta['base_rates']]
        if len(rates) != len(net.learning_rates) or not all(np.isfinite(rates)):
            raise ValueError(f'{len(rates)} rates for {len(net.learning_rates)} layers')
        entry = 'history'
        history = meta['history']
        epochs = [record['epoch'] for record in history]
        if not history or not all(isinstance(e, int) and e == k for k, e in enumerate(epochs)):
            raise ValueError('not the records of epochs 0, 1, 2, ...')
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise GLEInputError(f'{path} lacks the training state of a resumable checkpoint (its meta[{entry!r}]: '
                            f'{type(error).__name__}: {error}); it was not written by train(), or by an earlier '
                            f'layout: {FIX}.') from None
    return {'rng': meta['rng'], 'plateau': meta['plateau'], 'base_rates': rates, 'history': history}


def train(net, train_data, test_data, epochs, seed=0, checkpoint=None, resume=False, patience=2, factor=0.5,
          min_decay=1e-8, progress=True, on_epoch=None, reset_layers=(), chunks_per_run=1):
    """Train ``net`` for ``epochs`` epochs (in total, counting those of a resumed checkpoint).

    Parameters
    ----------
    net : GLENetwork
        Built with ``learning``, a loss (``'ce'``), ``record=['r']`` and ``batch`` = samples per chunk.
    train_data, test_data : TimeSeriesData
        Samples with ``net.n_in`` channels and ``net.layers[-1].size`` classes, all of the same length.
    seed : int
        Seed of the shuffling.
    checkpoint : str or None
        ``.npz`` file written after every epoch (:mod:`gle_brian.checkpoints`); its folder is made, and a path
        that cannot be written is refused before anything runs.
    resume : bool
        Continue from ``checkpoint`` when it exists (bit for bit, on any device); a checkpoint of a network
        built with other settings (:meth:`GLENetwork.settings`) or an unreadable file is refused.
    patience, factor, min_decay : int, float, float
        :class:`ReduceLROnPlateau` on the test loss (PyTorch's defaults but ``patience``; ``min_decay`` is its
        ``eps``: the learning rate stops at a floor).
    progress : bool
        Show progress bars with the running loss and accuracy.
    on_epoch : callable or None
        Called as ``on_epoch(history, test_result)`` after each epoch's checkpoint (e.g. to write plots);
        ``test_result`` as returned by :func:`evaluate`.
    reset_layers : sequence of int
        Layers set back to rest before every chunk (:meth:`GLENetwork.reset_state`; only with
        ``chunks_per_run=1``: resets happen between runs).
    chunks_per_run : int
        Chunks of ``net.batch`` samples presented one after the other in one run (the state carries from one
        to the next, as between runs): online learning at batch 1 becomes runs of many samples, so a
        compiled network starts its program tens of times per epoch, not thousands. Per epoch, chunks that
        do not fill a whole run are left out. On ``cpp_standalone`` (without ``reset_layers``)
        :data:`RUNS_PER_CALL` consecutive training runs go to the network in one ``net.run``: its program starts
        once for them, and the numbers are those of the runs one by one.

    Returns the history: one dict per epoch with ``epoch``, ``train_loss``, ``train_accuracy``,
    ``test_loss``, ``test_accuracy``, ``lr_scale``, ``train_seconds`` and ``seconds`` (wall time of the
    epoch, testing included). Its first entry, epoch 0, is the test before training (train values None).
    """
    _check(net, train_data, chunks_per_run, reset_layers)
    _check(net, test_data, chunks_per_run, reset_layers)
    if net.learning is None:
        raise GLEConfigError('the network has no plasticity; build it with learning=Learning(Adam(lr=...)).')
    if resume and checkpoint is None:
        raise GLEConfigError('resume=True needs checkpoint=... (the file to continue from).')
    if checkpoint is not None:
        try:
            check_destination(checkpoint)
        except OSError as error:
            raise GLEConfigError(f'checkpoint={checkpoint!r}: {error}') from None
    rng = np.random.default_rng(seed)
    base_rates, history, restored = list(net.learning_rates), [], {}
    if resume and os.path.exists(checkpoint):
        load_checkpoint(checkpoint, net, check=lambda meta: restored.update(_training_state(meta, checkpoint, net)))
        rng.bit_generator.state = restored['rng']
        base_rates, history = restored['base_rates'], restored['history']
    plateau = ReduceLROnPlateau(max(base_rates), patience, factor, min_decay=min_decay)
    if restored:
        plateau.load(restored['plateau'])
    B, K = net.batch, chunks_per_run
    runs = len(train_data) // (B * K)
    # a cpp_standalone binary starts once per net.run: consecutive training runs go in one (the same numbers)
    per_call = RUNS_PER_CALL if net.project is not None and net.steps_per_run is None and not reset_layers else 1
    if runs == 0:
        raise GLEConfigError(f'the training set has {len(train_data)} samples, fewer than one run of batch={B} x '
                             f'chunks_per_run={K}; lower them or give more samples.')
    first = history[-1]['epoch'] + 1 if history else 0
    for epoch in range(first, epochs + 1):
        start = time.perf_counter()
        losses, correct, seen = [], 0, 0
        if epoch:
            order = rng.permutation(len(train_data))
            bar = tqdm(total=runs, desc=f'epoch {epoch}/{epochs}', disable=not progress)
            first_run = 0
            while first_run < runs:     # (the first run of all compiles the network for one run's length)
                last_run = min(first_run + (per_call if net.runner.compiled else 1), runs)
                chunks = np.split(order[first_run * B * K:last_run * B * K], (last_run - first_run) * K)
                for indices, rates in zip(chunks, _run_chunks(net, train_data, chunks, True, reset_layers)):
                    loss, prediction = _metrics(rates, train_data.y[indices])
                    losses.append(loss)
                    correct += int((prediction == train_data.y[indices]).sum())
                    seen += B
                bar.update(last_run - first_run)
                first_run = last_run
                bar.set_postfix(loss=f'{np.concatenate(losses).mean():.4f}', acc=f'{correct / seen:.3f}')
            bar.close()
        train_seconds = time.perf_counter() - start
        test = evaluate(net, test_data, progress, reset_layers, chunks_per_run)
        record = {'epoch': epoch, 'train_loss': float(np.concatenate(losses).mean()) if epoch else None,
                  'train_accuracy': correct / seen if epoch else None, 'test_loss': test['loss'],
                  'test_accuracy': test['accuracy'], 'lr_scale': plateau.scale, 'train_seconds': train_seconds,
                  'seconds': time.perf_counter() - start}
        history.append(record)
        if epoch and plateau.step(test['loss']):
            for l, lr in enumerate(base_rates):
                net.set_learning_rate(lr * plateau.scale, layer=l)
        if progress:
            trained = f"train loss {record['train_loss']:.4f} acc {record['train_accuracy']:.3f}, " if epoch else ''
            tqdm.write(f"epoch {epoch}: {trained}test loss {test['loss']:.4f} acc {test['accuracy']:.3f} "
                       f"({record['seconds']:.1f} s)")
        if checkpoint is not None:
            save_checkpoint(checkpoint, net, {'epoch': epoch, 'history': history, 'rng': rng.bit_generator.state,
                                              'plateau': plateau.state(), 'base_rates': base_rates})
        if on_epoch is not None:
            on_epoch(history, test)
    return history
