"""Google Speech Commands v2, 12 classes, with a 3 x 750 GLE network: the paper's largest task.

The data (``--data``: the unpacked ``speech_commands_v0.02`` folder), the features and the augmentation are those of
:mod:`gle_brian.speech`: 32 log-mel bands, 41 frames, each held for 20 steps with linear interpolation, 820 steps
of dt = 0.05 ms per clip (1 a.u. of the paper = 1 ms). The network: 32 inputs -> three hidden layers of 750
neurons, each five groups of 150 with (tau_m, tau_r) = (2.4, 2.4), (0.6, 0.1), (1.2, 0.1), (1.8, 0.1),
(2.4, 0.1) ms (the first group LE), the first layer linear and the others tanh, biases; 12 linear outputs with
tau_m = tau_r = 2.4 ms; prospective errors, gamma = 0; cross-entropy. Adam (lr 1.95e-5) steps every dt on every
weight and bias; batch 256 class-balanced and augmented training samples; ReduceLROnPlateau on the validation
loss (patience 3, factor 0.9, eps 1e-20: no floor); 420 epochs; the state is never reset. Prediction: argmax of
the output rates summed over the clip. Published: 91.44 +- 0.22 % (10 seeds). Validation runs after every epoch
(its features cached in ``OUT/features``), the test split once at the end.

Outputs in ``--out``: ``checkpoint.npz`` (after every epoch; ``--resume`` continues from it), ``metrics.json``
(the history, and the test result at the end). Run::

    python -m models.gsc --data speech_commands_v0.02 --epochs 420 --out results/gsc
    python -m models.gsc --data DIR --group-size 10 --epochs 2 --batch 16     # a small network, for a quick look
"""
import argparse
import json
import os

from brian2 import ms

from gle_brian import GLENetwork, Layer
from gle_brian.checkpoints import read_meta
from gle_brian.cli import non_negative_int, output_folder, positive_float, positive_int
from gle_brian.devices import DEVICES
from gle_brian.errors import GLEInputError
from gle_brian.network import PRECISIONS
from gle_brian.optimisers import Adam, Learning
from gle_brian.results import write_json
from gle_brian.speech import CLASSES, FEATURES, SpeechCommands, SpeechCommandsData
from gle_brian.training import evaluate, train
from models import REFERENCE

DT = 0.05 * ms
TIME_CONSTANTS = ((2.4, 2.4), (0.6, 0.1), (1.2, 0.1), (1.8, 0.1), (2.4, 0.1))    # per group (tau_m, tau_r), ms
GROUP_SIZE, DEPTH = 150, 3
TAU_OUT = 2.4 * ms
LR, BATCH, EPOCHS = 1.95e-5, 256, 420
PATIENCE, FACTOR, MIN_DECAY = 3, 0.9, 1e-20   # the published plateau schedule (its eps: 1e-20)
REFERENCE_ACCURACY = 0.9144          # mean of 10 seeds after 420 epochs
SWEEP_METRIC = 'test_accuracy'       # the validation accuracy of every epoch (train() calls its set the test set)
REFERENCE_CURVE = os.path.join(REFERENCE, 'gsc_validation_accuracy.csv')
REFERENCE_SCALE = 0.01               # the published curves are in percent


def layers(group_size=GROUP_SIZE, depth=DEPTH):
    """The hidden layers (five groups of ``group_size`` each; the first linear, then tanh) and the 12 outputs."""
    groups = [(group_size, tau_m * ms, tau_r * ms) for tau_m, tau_r in TIME_CONSTANTS]
    hidden = [Layer(5 * group_size, 'linear' if k == 0 else 'tanh', bias=True).with_groups(*groups)
              for k in range(depth)]
    return hidden + [Layer(len(CLASSES), tau_m=TAU_OUT, tau_r=TAU_OUT, bias=True)]


def build(device, batch, seed, lr=LR, group_size=GROUP_SIZE, depth=DEPTH, directory=None, precision='double'):
    """The network: CE output error, Adam on W and b every step, output rates recorded."""
    return GLENetwork(FEATURES['n_mels'], layers(group_size, depth), dt=DT, device=device, loss='ce', beta=1.0,
                      seed=seed, batch=batch, learning=Learning(Adam(lr=lr)), record=['r'], record_layers=[-1],
                      directory=directory, precision=precision)


def run(data, epochs=1, device='cpp_standalone', batch=BATCH, seed=12, out='results/gsc', resume=False,
        progress=True, lr=LR, group_size=GROUP_SIZE, depth=DEPTH, precision='double'):
    """Train on the training split, validate after every epoch, test at the end; returns the history (one dict
    per epoch, see :func:`gle_brian.training.train`; ``test_*`` are the validation split's)."""
    corpus = SpeechCommands(data)
    training = SpeechCommandsData(corpus, 'training', seed=seed)
    validation = SpeechCommandsData(corpus, 'validation', cache=os.path.join(out, 'features'), progress=progress)
    net = build(device, batch, seed, lr, group_size, depth, directory=os.path.join(out, 'project'),
                precision=precision)
    checkpoint = os.path.join(out, 'checkpoint.npz')
    if resume and os.path.exists(checkpoint):
        training.epoch = read_meta(checkpoint)['history'][-1]['epoch'] + 1     # where the training draws continue
    meta = {'model': 'gsc', 'device': device, 'batch': batch, 'lr': lr, 'seed': seed, 'group_size': group_size,
            'depth': depth, 'precision': precision, 'training_samples': len(training),
            'validation_samples': len(validation), 'steps_per_sample': training.steps, 'dt_ms': float(DT / ms),
            'reference_accuracy': REFERENCE_ACCURACY}

    def on_epoch(history, result):
        training.epoch = history[-1]['epoch'] + 1
        write_json(os.path.join(out, 'metrics.json'), dict(meta, history=history))

    history = train(net, training, validation, epochs, seed=seed, checkpoint=checkpoint, resume=resume,
                    patience=PATIENCE, factor=FACTOR, min_decay=MIN_DECAY,
                    progress=progress, on_epoch=on_epoch)
    test = evaluate(net, SpeechCommandsData(corpus, 'testing', cache=os.path.join(out, 'features')), progress)
    write_json(os.path.join(out, 'metrics.json'), dict(meta, history=history, test_loss=test['loss'],
                                                       test_accuracy=test['accuracy']))
    return history


def task(out, data, epochs=EPOCHS, seed=12, device='cpp_standalone', batch=BATCH, lr=LR, group_size=GROUP_SIZE,
         depth=DEPTH, precision='double'):
    """One task of a sweep (:mod:`gle_brian.sweep`): :func:`run` in the folder ``out``, resuming from its
    checkpoint; returns the history (one row per epoch)."""
    return run(data, epochs, device, batch, seed, out, resume=True, progress=False, lr=lr, group_size=group_size,
               depth=depth, precision=precision)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', required=True, help='the speech_commands_v0.02 folder')
    parser.add_argument('--epochs', type=non_negative_int, default=EPOCHS, help='0: only the validation before')
    parser.add_argument('--device', default='cpp_standalone', choices=DEVICES)
    parser.add_argument('--batch', type=positive_int, default=BATCH)
    parser.add_argument('--seed', type=non_negative_int, default=12)
    parser.add_argument('--lr', type=positive_float, default=LR)
    parser.add_argument('--group-size', type=positive_int, default=GROUP_SIZE, help='neurons per group (5 a layer)')
    parser.add_argument('--depth', type=positive_int, default=DEPTH, help='hidden layers')
    parser.add_argument('--precision', default='double', choices=list(PRECISIONS))
    parser.add_argument('--resume', action='store_true', help='continue from OUT/checkpoint.npz')
    parser.add_argument('--out', type=output_folder, default='results/gsc')
    args = parser.parse_args(argv)
    try:
        SpeechCommands(args.data)                        # a wrong folder is an error before anything is built
    except GLEInputError as error:
        parser.error(f'--data: {error}')
    history = run(args.data, args.epochs, args.device, args.batch, args.seed, args.out, args.resume, lr=args.lr,
                  group_size=args.group_size, depth=args.depth, precision=args.precision)
    with open(os.path.join(args.out, 'metrics.json')) as f:
        test = json.load(f)['test_accuracy']
    last = history[-1]
    print(f"gsc: epoch {last['epoch']}, validation accuracy {100 * last['test_accuracy']:.1f} %, test accuracy "
          f"{100 * test:.1f} % (chance {100 / len(CLASSES):.1f} %; published 91.44 % after 420 epochs)")


if __name__ == '__main__':
    main()
