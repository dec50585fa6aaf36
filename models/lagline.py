"""LagLine (paper Fig. 5): a student chain 1 -> 1 -> 1 learns the weights and membrane time constants of a teacher.

Both chains are two softplus neurons with a prospective look-ahead tau_r = 0.1 ms (gamma = 1, no bias). The
teacher has w = (1, 2) and tau_m = (1, 2) ms; the student starts from w, tau_m ~ U(0, 1) (numpy seed
``--seed``; tau_m clamped to >= 0.1 ms) and learns all four with Adam (lr 1e-4, every step), from the MSE
error beta*(target - output), beta = 0.01. Schedule (docs/model.rst, section 'LagLine'): 50 ms without
learning (the student runs with the teacher's tau_m for the first 25 ms), then training. 1 a.u. of the paper
is 1 ms.

Variants: ``gle`` (prospective errors) and ``bp`` (instantaneous errors, same prospective neurons) run
as a :class:`~gle_brian.GLENetwork` on ``--device``. ``bptt_tw4``, ``bptt_tw2`` and ``bptt_tw1`` are the
truncated-BPTT baselines (windows of 4, 2, 1 ms = 400, 200, 100 steps; :mod:`models.lagline_bptt`): the
student runs without error nudging and with its own tau_m from the start, and takes one Adam step per
window (lr 1e-4 times the window length in steps, i.e. 4e-2, 2e-2, 1e-2) on the window's summed MSE
loss. They run in numpy whatever ``--device`` says (their metrics say ``device: numpy (no Brian2)``).
``--batch B`` trains B copies on phase-shifted inputs with shared parameters and batch-mean gradients
(the reference uses B = 100); the default is 1.

Outputs in ``--out``: ``lagline_<variant>.json`` (metrics) and ``lagline.png`` (loss on log-log axes, w and
tau_m trajectories, output traces).

Run::

    python -m models.lagline --variant gle bp --train 4000 --device cpp_standalone --out results/lagline
    python -m models.lagline --variant bptt_tw4 bptt_tw2 bptt_tw1 --batch 100 --out results/lagline
"""
import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas
from brian2 import ms
from tqdm.auto import tqdm

from gle_brian import GLENetwork, Layer
from gle_brian.cli import non_negative_int, output_folder, positive_int, ranged
from gle_brian.data import smoothed_steps
from gle_brian.devices import DEVICES
from gle_brian.optimisers import Adam, Learning
from gle_brian.reference import forward_rates
from gle_brian.results import atomic_path, save_figure, write_json
from models import lagline_bptt

DT = 0.01 * ms
TAU_R = 0.1                       # ms, both neurons, fixed
TEACHER = {'w': (1.0, 2.0), 'tau_m': (1.0, 2.0)}
PROSPECTIVE_ERRORS = {'gle': True, 'bp': False}          # GLENetwork variants
BPTT_WINDOWS = {'bptt_tw4': 400, 'bptt_tw2': 200, 'bptt_tw1': 100}   # steps per window (numpy)
VARIANTS = (*PROSPECTIVE_ERRORS, *BPTT_WINDOWS)
CHUNK = 25.0      # ms: the student's tau_m replaces the teacher's after the first CHUNK (cuda: runs of CHUNK)
RECORD_EVERY = 10                 # steps between logged samples (as the reference)
SMOOTH = 40                       # logged samples averaged for the loss curve (4 ms)


def layers(tau_m, prospective_errors=True):
    """The chain's two layers with membrane time constants ``tau_m`` (ms)."""
    return [Layer(1, 'softplus', tau_m=tau * ms, tau_r=TAU_R * ms, gamma=1.0, prospective_errors=prospective_errors)
            for tau in tau_m]


def teacher_rates(x):
    """Output rate of the teacher (no target, so no errors) stored after each step, for input ``x`` (steps,)."""
    weights = [np.array([[w]]) for w in TEACHER['w']]
    return forward_rates(layers(TEACHER['tau_m']), weights, DT, x[:, None])[-1][:, 0]


def teacher_outputs(x):
    """:func:`teacher_rates` of every column of ``x`` (steps, batch), side by side: the columns on all cores (numpy's
    ``exp`` and ``log1p``, most of the time, release Python's lock), the same numbers."""
    with ThreadPoolExecutor(len(os.sched_getaffinity(0))) as pool:
        return np.column_stack(list(pool.map(teacher_rates, x.T)))


def initial_student(seed):
    """Student ``(w, tau_m)`` drawn from U(0, 1) with numpy's ``default_rng(seed)``; tau_m clamped to >= 0.1."""
    w, tau_m = np.random.default_rng(seed).uniform(0, 1, (2, 2))
    return w, np.maximum(tau_m, 10 * float(DT / ms))


def run(variant='gle', train=4000.0, device='cpp_standalone', seed=1, lr=1e-4, beta=0.01, init=50.0, batch=1,
        directory=None):
    """Train a student; ``train`` and ``init`` in ms. Returns a dict of metrics and one of traces.

    BPTT variants ignore ``device``, ``beta`` and ``directory`` (numpy; their lr is ``lr`` times the window).

    Example: ``metrics, curves = run('gle', train=200.0, device='cython')``.
    """
    if variant not in VARIANTS:
        raise ValueError(f'variant={variant!r} is not known; use one of {list(VARIANTS)}.')
    chunk = int(round(CHUNK / float(DT / ms)))
    n_init, n_train = (int(round(T / CHUNK)) for T in (init, train))
    steps = chunk * (n_init + n_train)
    x = smoothed_steps(steps * DT, DT, batch=batch, seed=seed)                  # (steps, batch)
    teacher = teacher_outputs(x)
    target = np.vstack([np.zeros((1, batch)), teacher[:-1]])   # the teacher's output stored before each step
    w0, tau0 = initial_student(seed)

    start = time.perf_counter()
    if variant in BPTT_WINDOWS:
        window = BPTT_WINDOWS[variant]
        device, beta, lr = 'numpy (no Brian2)', None, lr * window
        dt = float(DT / ms)
        traces, w, tau_m = lagline_bptt.train(x, target, w0, tau0, window=window, learn_from=n_init * chunk, lr=lr,
                                              dt=dt, tau_r=TAU_R, tau_m_min=10 * dt, record_every=RECORD_EVERY)
    else:
        traces, w, tau_m = _train_network(variant, x, target, w0, tau0, chunk, n_init, device, lr, beta, directory)
    elapsed = time.perf_counter() - start
    w, tau_m = [float(value) for value in w], [float(value) for value in tau_m]

    logged = np.arange(0, steps, RECORD_EVERY)              # traces hold the values after these steps
    t = logged * float(DT / ms)
    loss = ((traces['r'] - teacher[logged]) ** 2).mean(axis=1)            # batch-mean MSE
    smooth = loss[: len(loss) // SMOOTH * SMOOTH].reshape(-1, SMOOTH).mean(axis=1)
    training = t >= n_init * CHUNK                          # learning starts after whole runs of CHUNK ms
    first, last = loss[training][:SMOOTH].mean(), loss[-SMOOTH:].mean()
    metrics = {
        'variant': variant, 'device': device, 'dt_ms': float(DT / ms), 'init_ms': n_init * CHUNK,
        'train_ms': n_train * CHUNK,
        'steps': steps, 'seed': seed, 'lr': lr, 'beta': beta, 'batch': batch,
        'loss_start': float(first), 'loss_end': float(last), 'loss_reduction': float(first / last),
        'w': w, 'tau_m_ms': tau_m, 'w_start': w0.tolist(), 'tau_m_start_ms': tau0.tolist(),
        'w_target': list(TEACHER['w']), 'tau_m_target_ms': list(TEACHER['tau_m']),
        'w_error': float(np.abs(np.subtract(w, TEACHER['w'])).max()),
        'tau_m_error_ms': float(np.abs(np.subtract(tau_m, TEACHER['tau_m'])).max()),
        'wall_seconds': elapsed,
    }
    if variant in BPTT_WINDOWS:
        metrics['window_steps'] = BPTT_WINDOWS[variant]
    curves = {'t': t, 'loss_t': t[SMOOTH // 2::SMOOTH][:len(smooth)], 'loss': smooth, 'x': x[logged, 0],
              **traces, 'r': traces['r'][:, 0], 'target': teacher[logged, 0]}      # traces of batch element 0
    return metrics, curves


def task(out, variant='gle', seed=1, train=4000.0, init=50.0, device='cpp_standalone', batch=1, lr=1e-4, beta=0.01):
    """One task of a sweep (:mod:`gle_brian.sweep`): :func:`run` with its project in ``out``; writes
    ``lagline_<variant>.json`` and ``curves.csv`` (:func:`curve_table`) there and returns the metrics (one row)."""
    metrics, curves = run(variant, train=train, device=device, seed=seed, lr=lr, beta=beta, init=init, batch=batch,
                          directory=os.path.join(out, 'project'))
    write_json(os.path.join(out, f'lagline_{variant}.json'), metrics)
    with atomic_path(os.path.join(out, 'curves.csv')) as temporary:
        curve_table(curves).to_csv(temporary, index=False)
    return metrics


def curve_table(curves):
    """The loss curve of :func:`run` (means over 4 ms) with w and tau_m (ms) at the middle of each 4 ms, as a
    pandas.DataFrame with columns ``t_ms, loss, w0, w1, tau_m0_ms, tau_m1_ms``."""
    n, middle = len(curves['loss']), slice(SMOOTH // 2, None, SMOOTH)
    return pandas.DataFrame({'t_ms': curves['loss_t'], 'loss': curves['loss'],
                             **{f'w{l}': curves[f'w{l}'][middle][:n] for l in range(2)},
                             **{f'tau_m{l}_ms': curves[f'tau_m{l}'][middle][:n] for l in range(2)}})


def _train_network(variant, x, target, w0, tau0, chunk, n_init, device, lr, beta, directory):
    """The ``gle``/``bp`` student as a GLENetwork: ``(traces, w, tau_m)`` with traces logged every 10 steps."""
    steps, batch = x.shape
    net = GLENetwork(1, layers(TEACHER['tau_m'], PROSPECTIVE_ERRORS[variant]), dt=DT, device=device, loss='mse',
                     beta=beta, weights=[w0[:1, None], w0[1:, None]],
                     learning=Learning(Adam(lr=lr), tau_m=True, tau_m_min=10 * DT),
                     record=['r', 'err', 'w', 'tau_m'], record_dt=RECORD_EVERY * DT, directory=directory,
                     batch=batch)
    # three runs: the teacher's tau_m, the student's tau_m, then training (cuda_standalone: runs of CHUNK)
    edges = net.run_edges([0, chunk, n_init * chunk, steps], chunk)
    records = {name: [] for name in ('r', 'err', 'w0', 'w1', 'tau_m0', 'tau_m1')}
    chunks = list(zip(edges[:-1], edges[1:]))
    for begin, end in tqdm(chunks, desc=f'lagline {variant}', unit='run', disable=len(chunks) < 10, leave=False):
        if begin == chunk:
            for l in range(2):
                net.set_tau_m(tau0[l] * ms, layer=l)
        net.run(x[begin:end, :, None], target[begin:end, :, None], learn=begin >= n_init * chunk)
        records['r'].append(net.trace('r', 1).reshape(-1, batch))
        records['err'].append(net.trace('err', 1).reshape(-1, batch)[:, 0])
        for l in range(2):
            records[f'w{l}'].append(net.trace('w', l)[:, 0])
            records[f'tau_m{l}'].append(np.asarray(net.trace('tau_m', l) / ms).reshape(-1, batch)[:, 0])
    traces = {name: np.concatenate(values) for name, values in records.items()}
    return traces, [net.weights[l][0, 0] for l in range(2)], [net.tau_m[l][0] / ms for l in range(2)]


def plot(results, path):
    """Figure: loss (log-log), w and tau_m trajectories, and the last 20 ms of the output, per variant."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    colours = {'gle': 'C0', 'bp': 'C3', 'bptt_tw4': 'C2', 'bptt_tw2': 'C1', 'bptt_tw1': 'C4'}
    for metrics, curves in results:
        variant, c = metrics['variant'], colours[metrics['variant']]
        training = curves['loss_t'] >= metrics['init_ms']
        axes[0, 0].loglog(curves['loss_t'][training] - metrics['init_ms'], curves['loss'][training], c, label=variant)
        for l, style in enumerate(('-', '--')):
            axes[0, 1].semilogx(curves['t'], curves[f'w{l}'], c, ls=style, label=f'{variant} w{l}')
            axes[1, 0].semilogx(curves['t'], curves[f'tau_m{l}'], c, ls=style, label=f'{variant} tau_m{l}')
        last = curves['t'] > curves['t'][-1] - 20
        axes[1, 1].plot(curves['t'][last], curves['r'][last], c, label=f'{variant} student')
    axes[1, 1].plot(curves['t'][last], curves['target'][last], 'k:', label='teacher')
    for ax, target in ((axes[0, 1], TEACHER['w']), (axes[1, 0], TEACHER['tau_m'])):
        for value in target:
            ax.axhline(value, color='grey', lw=0.8, ls=':')
    labels = [('training time (ms)', 'loss (MSE, 4 ms mean)'), ('time (ms)', 'weight w'),
              ('time (ms)', 'tau_m (ms)'), ('time (ms)', 'output rate')]
    for ax, (xlabel, ylabel) in zip(axes.flat, labels):
        ax.set(xlabel=xlabel, ylabel=ylabel)
        ax.spines[['top', 'right']].set_visible(False)
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle('LagLine: a 1-1-1 softplus student learns w = (1, 2) and tau_m = (1, 2) ms of a teacher')
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--variant', nargs='+', default=['gle', 'bp'], choices=list(VARIANTS))
    parser.add_argument('--device', default='cpp_standalone', choices=DEVICES,
                        help='Brian2 device of gle and bp (BPTT variants always run in numpy)')
    parser.add_argument('--train', type=ranged(float, CHUNK), default=4000.0,
                        help=f'training time in ms, at least one run of {CHUNK:g} ms (default 4000)')
    parser.add_argument('--init', type=ranged(float, 0), default=50.0,
                        help=f'ms of running before learning starts, in runs of {CHUNK:g} ms (default 50)')
    parser.add_argument('--seed', type=non_negative_int, default=1)
    parser.add_argument('--batch', type=positive_int, default=1, help='copies on phase-shifted inputs (reference: 100)')
    parser.add_argument('--out', type=output_folder, default='results/lagline')
    args = parser.parse_args(argv)
    results = []
    for variant in args.variant:
        metrics, curves = run(variant, train=args.train, init=args.init, device=args.device, seed=args.seed,
                              batch=args.batch, directory=os.path.join(args.out, f'project_{variant}'))
        write_json(os.path.join(args.out, f'lagline_{variant}.json'), metrics)
        results.append((metrics, curves))
        print(f'lagline {variant} (batch {args.batch}) on {metrics["device"]}: loss {metrics["loss_start"]:.2e} -> '
              f'{metrics["loss_end"]:.2e} ({metrics["loss_reduction"]:.0f}x) in {args.train:g} ms of training; w = '
              f'({metrics["w"][0]:.4f}, {metrics["w"][1]:.4f}), tau_m = ({metrics["tau_m_ms"][0]:.4f}, '
              f'{metrics["tau_m_ms"][1]:.4f}) ms; {metrics["wall_seconds"]:.1f} s')
    plot(results, os.path.join(args.out, 'lagline.png'))
    return results


if __name__ == '__main__':
    main()
