"""LagNet (paper Fig. 6): a 1 -> 2 -> 2 -> 1 student learns its first-layer weights from a teacher, with GLE
errors ("PE"), and a second student learns them from the exact adjoint ("IE").

Hidden layers: tanh, tau_m = 1 ms, tau_r = (1, 0.1) ms (neuron 0 is instantaneous (LE), neuron 1 lagged),
nudging gamma = 1e-3; output linear LE (tau_m = tau_r = 1 ms). Teacher: W1 = (-0.5, 1), W2 = diag(0.5, 1),
W3 = (0.5, 1). The student keeps W2 and W3 of the teacher (learning rate 0) and learns W1 from numpy's
``init_weights`` with ``--seed`` (the reference uses torch's default init with seed 5), with SGD, momentum
0.9, lr 2e-4, beta 1, MSE, every step after the first 80 ms. Input: sin(0.49 t) + sin(1.07 t) + sin(1.98 t),
t in ms (78, 170 and 315 Hz), dt = 0.01 ms (docs/model.rst, section 'LagNet'). During the warm-up the
first-layer errors are compared with the exact adjoint lambda computed offline backward in time (section
'Errors and the exact adjoint'): per input frequency the error should be in phase with lambda and larger by
kappa(w)^2 (two layers; 1 for the LE path).

The IE student (:func:`run_ie`, numpy, no Brian2) is the same network with the same start W1 and input, run
without error nudging (gamma = 0: the pure forward Euler dynamics of the reference step). After the warm-up
it cuts time into windows of 300 steps (3 ms); after each window, W1 takes one SGD step (momentum 0.9,
lr 7e-2, not scaled by dt) along the exact gradient of the window loss L = 1/2 sum_n (r_out^n - y^n)^2 dt
(dt in ms), computed backward in time by :mod:`gle_brian.bptt` (the discrete counterpart of the adjoint
gradient -integral of lambda r_pre dt). The state carries over between windows as a constant.

Outputs in ``--out``: ``lagnet.json`` (metrics; those of the IE student start with ``ie_``) and
``lagnet.png`` (loss and W1 trajectories of both students, errors of the two first-layer neurons of the GLE
student against the adjoint).

Run::

    python -m models.lagnet --duration 1000 --device cpp_standalone --out results/lagnet
"""
import argparse
import os
import time

import numpy as np
from brian2 import kHz, ms
from scipy.signal import lfilter

from gle_brian import GLENetwork, Layer, bptt, init_weights
from gle_brian.cli import non_negative_int, output_folder, ranged
from gle_brian.data import sines
from gle_brian.devices import DEVICES
from gle_brian.optimisers import Learning, SGD
from gle_brian.reference import forward_rates
from gle_brian.results import save_figure, write_json

DT = 0.01 * ms
FREQUENCIES = np.array([0.49, 1.07, 1.98]) / (2 * np.pi) * kHz     # angular 0.49, 1.07, 1.98 rad/ms
TEACHER = [np.array([[-0.5], [1.0]]), np.diag([0.5, 1.0]), np.array([[0.5, 1.0]])]
WARM_UP = 80.0                    # ms without learning
CHUNK = 20.0                      # ms: durations in whole CHUNKs (cuda_standalone: runs of CHUNK)
SMOOTH = 100                      # steps in the moving average of the loss
IE_WINDOW = 300                   # steps per window of the IE student (3 ms)
IE_LR = 7e-2                      # its learning rate per window
MOMENTUM = 0.9


def layers(gamma=1e-3):
    """The network's layers: two tanh layers of 2 neurons (nudging ``gamma``) and a linear LE output, times in ms.

    The teacher runs them without errors (``gamma`` plays no part there). Example: ``layers()[0].tau_r`` is
    ``[1, 0.1] * ms``; ``layers(gamma=0.0)`` is the IE student's network.
    """
    hidden = dict(tau_m=[1.0, 1.0] * ms, tau_r=[1.0, 0.1] * ms, gamma=gamma)
    return [Layer(2, 'tanh', **hidden), Layer(2, 'tanh', **hidden), Layer(1, 'linear', tau_m=1 * ms)]


def task(duration=1000.0, seed=5):
    """The task both students share: ``(x, teacher, target, w_start, warm)``.

    ``duration`` (ms) is rounded to whole ``CHUNK`` runs; ``x`` (steps, 1) is the input, ``teacher`` (steps,)
    the teacher's output rate stored after each step, ``target`` (steps, 1) the one stored before each step
    (what the output is compared with), ``w_start`` the start W1 (2, 1) drawn with ``seed``, ``warm`` the
    number of warm-up steps. Example: ``x, teacher, target, w_start, warm = task(100.0)``.
    """
    chunk = int(round(CHUNK / float(DT / ms)))
    steps = chunk * int(round(duration / CHUNK))
    x = sines(steps * DT, DT, FREQUENCIES)
    teacher = forward_rates(layers(), TEACHER, DT, x)[-1][:, 0]
    target = np.concatenate([[0.0], teacher[:-1]])[:, None]    # teacher output stored before each step
    w_start = init_weights([1, 2], seed)[0]
    return x, teacher, target, w_start, int(round(WARM_UP / CHUNK)) * chunk


def loss_metrics(rates, teacher, warm):
    """Squared error of the output ``rates`` (steps,) against ``teacher``, its ``SMOOTH``-step moving mean, and
    its means over the first 20 ms of learning and the last 20 ms: ``(loss, smooth, start, end)``.

    Example: ``loss, smooth, start, end = loss_metrics(curves['r'], curves['target'], 8000)``.
    """
    loss = (rates - teacher) ** 2
    smooth = np.convolve(loss, np.ones(SMOOTH) / SMOOTH, mode='valid')
    window = int(round(20.0 / float(DT / ms)))                # 20 ms
    return loss, smooth, loss[warm:warm + window].mean(), loss[-window:].mean()


def run(duration=1000.0, device='cpp_standalone', seed=5, lr=2e-4, directory=None):
    """Train the GLE student for ``duration`` ms (learning after ``WARM_UP``) on Brian2 ``device``.

    ``lr`` per step; ``directory``: the standalone project. Returns ``(metrics, curves)``: curves over time
    in ms, rates and errors per step. Example: ``metrics, curves = run(300.0, device='numpy')``.
    """
    chunk = int(round(CHUNK / float(DT / ms)))
    x, teacher, target, w_start, warm = task(duration, seed)
    steps = len(x)

    start = time.perf_counter()
    net = GLENetwork(1, layers(), dt=DT, device=device, loss='mse', beta=1.0,
                     weights=[w_start, TEACHER[1], TEACHER[2]],
                     learning=Learning(SGD(lr=lr, momentum=MOMENTUM), lr=[lr, 0.0, 0.0]),
                     record=['r', 'err', 'w', 'u_breve'], directory=directory)
    # two runs: the warm-up and learning (cuda_standalone: runs of CHUNK)
    edges = net.run_edges([0, warm, steps], chunk)
    records = {name: [] for name in ('r', 'err', 'w', 'u_breve0', 'u_breve1')}
    for begin, end in zip(edges[:-1], edges[1:]):
        net.run(x[begin:end], target[begin:end], learn=begin >= warm)
        records['r'].append(net.trace('r', 2)[:, 0])
        records['err'].append(net.trace('err', 0))
        records['w'].append(net.trace('w', 0))
        for l in range(2):
            records[f'u_breve{l}'].append(net.trace('u_breve', l))
    elapsed = time.perf_counter() - start
    curves = {name: np.concatenate(values) for name, values in records.items()}

    loss, smooth, loss_start, loss_end = loss_metrics(curves['r'], teacher, warm)
    w_end = net.weights[0][:, 0]
    # the adjoint during the warm-up (fixed weights), away from its ends
    probe = slice(int(round(20.0 / float(DT / ms))), warm - int(round(10.0 / float(DT / ms))))
    lam = adjoint(curves, [w_start, TEACHER[1], TEACHER[2]], teacher, warm)[probe]
    err = curves['err'][probe]
    correlation = [float(np.corrcoef(err[:, k], lam[:, k])[0, 1]) for k in range(2)]
    ratio = (err.std(axis=0) / lam.std(axis=0)).tolist()
    t_probe = np.arange(steps)[probe] * float(DT / ms)
    gain = phasors(err, t_probe) / phasors(lam, t_probe)                    # (frequencies, neurons)
    metrics = {'device': device, 'dt_ms': float(DT / ms), 'duration_ms': steps * float(DT / ms),
               'warm_up_ms': WARM_UP, 'seed': seed, 'lr': lr, 'momentum': MOMENTUM,
               'loss_start': float(loss_start), 'loss_end': float(loss_end),
               'loss_reduction': float(loss_start / loss_end),
               'w1_start': w_start[:, 0].tolist(), 'w1': w_end.tolist(), 'w1_target': TEACHER[0][:, 0].tolist(),
               'w1_error': float(np.abs(w_end - TEACHER[0][:, 0]).max()),
               'error_adjoint_correlation': correlation, 'error_adjoint_std_ratio': ratio,
               'error_over_adjoint_amplitude': np.abs(gain).T.tolist(),
               'error_minus_adjoint_phase_rad': np.angle(gain).T.tolist(),
               'theory_amplitude': kappa_path().T.tolist(), 'wall_seconds': elapsed}
    curves.update(t=np.arange(steps) * float(DT / ms), smooth_loss=smooth, target=teacher, x=x[:, 0],
                  probe=np.arange(steps)[probe], adjoint=lam)
    return metrics, curves


def run_ie(duration=1000.0, seed=5, lr=IE_LR, window=IE_WINDOW):
    """Train the IE student for ``duration`` ms: exact BPTT gradient of each ``window``-step loss (numpy).

    No error nudging; W1 takes one SGD step (momentum 0.9, ``lr`` per window) after each window from
    ``WARM_UP`` on (a last, shorter window too), along the gradient of ``1/2 sum (output - target)^2 dt``
    (dt in ms) from :func:`gle_brian.bptt.backward`; the state carries over. Returns ``(metrics, curves)``:
    metrics under ``ie_`` keys, curves ``ie_r`` (output after each step), ``ie_w`` (W1 in use at each step,
    (steps, 2)) and ``ie_smooth_loss``. Example: ``metrics, curves = run_ie(300.0)``.
    """
    if window < 1:
        raise ValueError(f'window={window} must be at least one step.')
    x, teacher, target, w_start, warm = task(duration, seed)
    steps, dt = len(x), float(DT / ms)
    start = time.perf_counter()
    tau_m, tau_r, activations = bptt.layer_parameters(layers(gamma=0.0), ms)
    weights = [w_start.copy(), TEACHER[1], TEACHER[2]]
    sgd = SGD(lr=lr, momentum=MOMENTUM)
    optimiser = sgd.numpy_state(w_start.shape)
    state = bptt.initial_state([2, 2, 1], batch=1)
    rates, w_trace = np.empty(steps), np.empty((steps, 2))
    edges = sorted({0, *range(warm, steps, window), steps})          # the warm-up runs as one window
    for begin, end in zip(edges[:-1], edges[1:]):
        cache = bptt.forward(x[begin:end, None, :], weights, tau_m, tau_r, activations, state, dt)
        rates[begin:end], w_trace[begin:end] = cache['rates_after'][:, 0, 0], weights[0][:, 0]
        if begin >= warm:
            _, gradients = bptt.backward(cache, target[begin:end, None, :], scale=dt / 2)
            weights[0] = weights[0] - sgd.numpy_step(optimiser, gradients['W'][0])
        state = cache['state']
    elapsed = time.perf_counter() - start
    _, smooth, loss_start, loss_end = loss_metrics(rates, teacher, warm)
    w_end = weights[0][:, 0]
    metrics = {'ie_device': 'numpy (no Brian2)', 'ie_lr': lr, 'ie_momentum': MOMENTUM, 'ie_window_steps': window,
               'ie_loss_start': float(loss_start), 'ie_loss_end': float(loss_end),
               'ie_loss_reduction': float(loss_start / loss_end), 'ie_w1': w_end.tolist(),
               'ie_w1_error': float(np.abs(w_end - TEACHER[0][:, 0]).max()), 'ie_wall_seconds': elapsed}
    return metrics, {'ie_r': rates, 'ie_w': w_trace, 'ie_smooth_loss': smooth}


def _angular_frequencies():
    """The input's angular frequencies in rad/ms, e.g. ``_angular_frequencies()[0]`` is 0.49."""
    return np.asarray(2 * np.pi * FREQUENCIES * ms)


def kappa_path():
    """GLE error over adjoint per input frequency (rows) for each first-layer neuron (columns), in theory.

    Each layer multiplies by kappa(w) = (1 + w^2 tau_m^2)/(1 + w^2 tau_r^2) in phase (docs/model.rst,
    section 'Errors and the exact adjoint'); W2 is diagonal, so neuron k of layer 1 reaches the output
    through neuron k of layer 2 only. Example: ``kappa_path()[:, 0]`` is ``[1, 1, 1]`` (the LE neuron).
    """
    omegas = _angular_frequencies()[:, None]
    tau_m, tau_r = np.array([1.0, 1.0]), np.array([1.0, 0.1])
    return ((1 + omegas ** 2 * tau_m ** 2) / (1 + omegas ** 2 * tau_r ** 2)) ** 2


def phasors(signals, t):
    """Complex amplitude of each column of ``signals`` at the input frequencies (least squares), (3, columns).

    ``t`` in ms, one value per row of ``signals``. Example: ``np.abs(phasors(err, t))`` (amplitudes).
    """
    omegas = _angular_frequencies()
    basis = np.column_stack([f(w * t) for w in omegas for f in (np.sin, np.cos)] + [np.ones_like(t)])
    c = np.linalg.lstsq(basis, signals, rcond=None)[0]
    return c[1:-1:2] - 1j * c[0:-1:2]          # a sin(wt) + b cos(wt) = Re[(b - i a) exp(i w t)]


def adjoint(curves, weights, teacher, steps):
    """Exact adjoint lambda of the first layer over the first ``steps`` (fixed ``weights``), shape (steps, 2).

    Backward in time (docs/model.rst, section 'Errors and the exact adjoint'): the output's lambda is
    target - output (LE, linear); below, ``alpha = phi'(u_breve) * W^T lambda`` and
    ``lambda = anti-causal low-pass (tau_m) of (1 - tau_r d/dt) alpha``, discretised with exp(-dt/tau_m) and
    a backward difference. ``curves`` holds ``r`` (output after each step) and ``u_breve0``, ``u_breve1``
    (steps, 2); ``teacher`` (steps,) the target output after each step. Example (the GLE curves of
    :func:`run`): ``lam = adjoint(curves, [w_start, TEACHER[1], TEACHER[2]], curves['target'], 8000)``.
    """
    dt = float(DT)                                    # seconds, as the time constants below
    lam = (teacher - curves['r'])[:steps, None]
    for l in (1, 0):
        tau_m, tau_r = layers()[l].time_constants(dt)
        phi_prime = layers()[l].check().numpy_functions()[1]
        alpha = phi_prime(curves[f'u_breve{l}'][:steps]) * (lam @ weights[l + 1])
        q = alpha - tau_r * np.diff(alpha, axis=0, prepend=alpha[:1]) / dt
        decay = np.exp(-dt / tau_m)
        lam = np.column_stack([lfilter([1 - a], [1, -a], q[::-1, k])[::-1] for k, a in enumerate(decay)])
    return lam


def plot(metrics, curves, path):
    """Figure: smoothed loss and W1 of both students (the IE one when ``curves`` has ``ie_`` entries), the
    errors of the GLE student's first-layer neurons, and those errors against the adjoint in the warm-up.

    Example: ``plot(metrics, curves, 'lagnet.png')`` with the merged outputs of :func:`run` and :func:`run_ie`.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    t = curves['t']
    ie = 'ie_w' in curves
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.3))
    axes[0].semilogy(t[SMOOTH - 1:], curves['smooth_loss'], 'k', label='GLE (PE)')
    if ie:
        axes[0].semilogy(t[SMOOTH - 1:], curves['ie_smooth_loss'], 'C2', label='exact adjoint (IE)')
    axes[0].axvline(metrics['warm_up_ms'], color='grey', lw=0.8, ls=':')
    axes[0].set(xlabel='time (ms)', ylabel=f'loss (squared error, {SMOOTH}-step mean)')
    axes[0].legend(frameon=False)
    for k, label in enumerate(('fast (LE)', 'lagged')):
        axes[1].plot(t, curves['w'][:, k], f'C{k}', label=f'w1 {label}, GLE')
        if ie:
            axes[1].plot(t, curves['ie_w'][:, k], f'C{k}', ls='--', label=f'w1 {label}, IE')
        axes[1].axhline(metrics['w1_target'][k], color=f'C{k}', lw=0.8, ls=':')
        last = t > t[-1] - 30
        axes[2].plot(t[last], curves['err'][last, k], f'C{k}', label=f'{label} neuron')
    probe = curves['probe'][-1500:]
    for k, label in enumerate(('fast (LE)', 'lagged')):
        axes[3].plot(t[probe], curves['err'][probe, k], f'C{k}', label=f'e, {label}')
        axes[3].plot(t[probe], curves['adjoint'][-1500:, k], f'C{k}', ls=':', label=f'adjoint lambda, {label}')
    axes[3].set(xlabel='time (ms)', ylabel='first-layer error, warm-up (GLE)')
    axes[3].legend(frameon=False, fontsize=7)
    axes[1].set(xlabel='time (ms)', ylabel='first-layer weight (teacher dotted)')
    axes[2].set(xlabel='time (ms)', ylabel='error e (first layer, GLE)')
    for ax in axes:
        ax.spines[['top', 'right']].set_visible(False)
    axes[1].legend(frameon=False, fontsize=8)
    axes[2].legend(frameon=False)
    fig.suptitle('LagNet 1-2-2-1: the first layer learns from GLE errors' + (
        ' (solid) and from the exact adjoint, windows of 3 ms (IE, dashed)' if ie else '')
        + '; teacher weights dotted')
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def main(argv=None):
    """Command line: run both students, write ``lagnet.json`` and ``lagnet.png`` to ``--out``.

    Example: ``main(['--duration', '300', '--device', 'numpy', '--out', 'results/lagnet_short'])``.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cpp_standalone', choices=DEVICES)
    parser.add_argument('--duration', type=ranged(float, WARM_UP + CHUNK), default=1000.0,
                        help=f'ms, at least the {WARM_UP:g} ms warm-up and one {CHUNK:g} ms run (default 1000)')
    parser.add_argument('--seed', type=non_negative_int, default=5)
    parser.add_argument('--out', type=output_folder, default='results/lagnet')
    args = parser.parse_args(argv)
    metrics, curves = run(args.duration, device=args.device, seed=args.seed,
                          directory=os.path.join(args.out, 'project'))
    ie_metrics, ie_curves = run_ie(args.duration, seed=args.seed)
    metrics.update(ie_metrics)
    curves.update(ie_curves)
    write_json(os.path.join(args.out, 'lagnet.json'), metrics)
    plot(metrics, curves, os.path.join(args.out, 'lagnet.png'))
    for name, prefix, where in (('GLE', '', args.device), ('IE', 'ie_', 'numpy')):
        print(f'lagnet {name} on {where}: loss {metrics[prefix + "loss_start"]:.2e} -> '
              f'{metrics[prefix + "loss_end"]:.2e} ({metrics[prefix + "loss_reduction"]:.0f}x) in '
              f'{metrics["duration_ms"]:g} ms; w1 = ({metrics[prefix + "w1"][0]:.4f}, '
              f'{metrics[prefix + "w1"][1]:.4f}), '
              f'target (-0.5, 1); {metrics[prefix + "wall_seconds"]:.1f} s')
    return metrics, curves


if __name__ == '__main__':
    main()
