"""LagNet (paper Fig. 6): a 1 -> 2 -> 2 -> 1 student learns its first-layer weights from a teacher, with GLE errors.

Hidden layers: tanh, tau_m = 1 ms, tau_r = (1, 0.1) ms (neuron 0 is instantaneous (LE), neuron 1 lagged),
nudging gamma = 1e-3; output linear LE (tau_m = tau_r = 1 ms). Teacher: W1 = (-0.5, 1), W2 = diag(0.5, 1),
W3 = (0.5, 1). The student keeps W2 and W3 of the teacher (learning rate 0) and learns W1 from numpy's
``init_weights`` with ``--seed`` (the reference uses torch's default init with seed 5), with SGD, momentum
0.9, lr 2e-4, beta 1, MSE, every step after the first 80 ms. Input: sin(0.49 t) + sin(1.07 t) + sin(1.98 t),
t in ms (78, 170 and 315 Hz), dt = 0.01 ms (docs/model.rst, section 'LagNet'). During the warm-up the
first-layer errors are compared with the exact adjoint lambda computed offline backward in time (section
'Errors and the exact adjoint'): per input frequency the error should be in phase with lambda and larger by
kappa(w)^2 (two layers; 1 for the LE path). The paper's model
that learns from lambda ("IE") is not included.

Outputs in ``--out``: ``lagnet.json`` (metrics) and ``lagnet.png`` (loss, W1 trajectories, errors of the
two first-layer neurons against the adjoint).

Run::

    python -m models.lagnet --duration 1000 --device cpp_standalone --out results/lagnet
"""
import argparse
import os
import time

import numpy as np
from brian2 import kHz, ms
from scipy.signal import lfilter

from gle_brian import GLENetwork, Layer, init_weights
from gle_brian.cli import non_negative_int, output_folder, ranged
from gle_brian.data import sines
from gle_brian.devices import DEVICES, STANDALONE_DEVICES
from gle_brian.optimisers import Learning, SGD
from gle_brian.reference import forward_rates
from gle_brian.results import save_figure, write_json

DT = 0.01 * ms
FREQUENCIES = np.array([0.49, 1.07, 1.98]) / (2 * np.pi) * kHz     # angular 0.49, 1.07, 1.98 rad/ms
TEACHER = [np.array([[-0.5], [1.0]]), np.diag([0.5, 1.0]), np.array([[0.5, 1.0]])]
WARM_UP = 80.0                    # ms without learning
CHUNK = 20.0                      # ms per standalone run
SMOOTH = 100                      # steps in the moving average of the loss


def layers(gamma=1e-3):
    hidden = dict(tau_m=[1.0, 1.0] * ms, tau_r=[1.0, 0.1] * ms, gamma=gamma)
    return [Layer(2, 'tanh', **hidden), Layer(2, 'tanh', **hidden), Layer(1, 'linear', tau_m=1 * ms)]


def run(duration=1000.0, device='cpp_standalone', seed=5, lr=2e-4, directory=None):
    """Train the student for ``duration`` ms (learning after ``WARM_UP``). Returns metrics and curves."""
    chunk = int(round(CHUNK / float(DT / ms)))
    steps = chunk * int(round(duration / CHUNK))
    x = sines(steps * DT, DT, FREQUENCIES)
    teacher = forward_rates(layers(), TEACHER, DT, x)[-1][:, 0]
    target = np.concatenate([[0.0], teacher[:-1]])[:, None]    # teacher output stored before each step
    w_start = init_weights([1, 2], seed)[0]
    warm = int(round(WARM_UP / CHUNK)) * chunk

    start = time.perf_counter()
    net = GLENetwork(1, layers(), dt=DT, device=device, loss='mse', beta=1.0,
                     weights=[w_start, TEACHER[1], TEACHER[2]],
                     learning=Learning(SGD(lr=lr, momentum=0.9), lr=[lr, 0.0, 0.0]),
                     record=['r', 'err', 'w', 'u_breve'], directory=directory)
    edges = (list(range(0, steps + 1, chunk)) if device in STANDALONE_DEVICES else [0, warm, steps])
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

    loss = (curves['r'] - teacher) ** 2
    smooth = np.convolve(loss, np.ones(SMOOTH) / SMOOTH, mode='valid')
    window = int(round(20.0 / float(DT / ms)))                # 20 ms
    loss_start, loss_end = loss[warm:warm + window].mean(), loss[-window:].mean()
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
               'warm_up_ms': WARM_UP, 'seed': seed, 'lr': lr, 'momentum': 0.9,
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


def _angular_frequencies():
    """The input's angular frequencies in rad/ms."""
    return np.asarray(2 * np.pi * FREQUENCIES * ms)


def kappa_path():
    """GLE error over adjoint per input frequency (rows) for each first-layer neuron (columns), in theory.

    Each layer multiplies by kappa(w) = (1 + w^2 tau_m^2)/(1 + w^2 tau_r^2) in phase (docs/model.rst,
    section 'Errors and the exact adjoint'); W2 is diagonal, so neuron k of layer 1 reaches the output
    through neuron k of layer 2 only.
    """
    omegas = _angular_frequencies()[:, None]
    tau_m, tau_r = np.array([1.0, 1.0]), np.array([1.0, 0.1])
    return ((1 + omegas ** 2 * tau_m ** 2) / (1 + omegas ** 2 * tau_r ** 2)) ** 2


def phasors(signals, t):
    """Complex amplitude of each column of ``signals`` at the input frequencies (least squares), (3, columns)."""
    omegas = _angular_frequencies()
    basis = np.column_stack([f(w * t) for w in omegas for f in (np.sin, np.cos)] + [np.ones_like(t)])
    c = np.linalg.lstsq(basis, signals, rcond=None)[0]
    return c[1:-1:2] - 1j * c[0:-1:2]          # a sin(wt) + b cos(wt) = Re[(b - i a) exp(i w t)]


def adjoint(curves, weights, teacher, steps):
    """Exact adjoint lambda of the first layer over the first ``steps`` (fixed ``weights``), shape (steps, 2).

    Backward in time (docs/model.rst, section 'Errors and the exact adjoint'): the output's lambda is
    target - output (LE, linear); below, ``alpha = phi'(u_breve) * W^T lambda`` and
    ``lambda = anti-causal low-pass (tau_m) of (1 - tau_r d/dt) alpha``, discretised with exp(-dt/tau_m) and
    a backward difference.
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
    """Figure: smoothed loss, the two learned weights, and the errors of the first-layer neurons."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    t = curves['t']
    fig, axes = plt.subplots(1, 4, figsize=(18, 4))
    axes[0].semilogy(t[SMOOTH - 1:], curves['smooth_loss'])
    axes[0].axvline(metrics['warm_up_ms'], color='grey', lw=0.8, ls=':')
    axes[0].set(xlabel='time (ms)', ylabel=f'loss (MSE, {SMOOTH}-step mean)')
    for k, label in enumerate(('fast (LE)', 'lagged')):
        axes[1].plot(t, curves['w'][:, k], f'C{k}', label=f'w1 {label}')
        axes[1].axhline(metrics['w1_target'][k], color=f'C{k}', lw=0.8, ls=':')
        last = t > t[-1] - 30
        axes[2].plot(t[last], curves['err'][last, k], f'C{k}', label=f'{label} neuron')
    probe = curves['probe'][-1500:]
    for k, label in enumerate(('fast (LE)', 'lagged')):
        axes[3].plot(t[probe], curves['err'][probe, k], f'C{k}', label=f'e, {label}')
        axes[3].plot(t[probe], curves['adjoint'][-1500:, k], f'C{k}', ls=':', label=f'adjoint lambda, {label}')
    axes[3].set(xlabel='time (ms)', ylabel='first-layer error, warm-up')
    axes[3].legend(frameon=False, fontsize=7)
    axes[1].set(xlabel='time (ms)', ylabel='first-layer weight')
    axes[2].set(xlabel='time (ms)', ylabel='error e (first layer)')
    for ax in axes:
        ax.spines[['top', 'right']].set_visible(False)
    axes[1].legend(frameon=False)
    axes[2].legend(frameon=False)
    fig.suptitle('LagNet 1-2-2-1: the first layer learns from GLE errors (teacher weights dotted)')
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cpp_standalone', choices=DEVICES)
    parser.add_argument('--duration', type=ranged(float, WARM_UP + CHUNK), default=1000.0,
                        help=f'ms, at least the {WARM_UP:g} ms warm-up and one {CHUNK:g} ms run (default 1000)')
    parser.add_argument('--seed', type=non_negative_int, default=5)
    parser.add_argument('--out', type=output_folder, default='results/lagnet')
    args = parser.parse_args(argv)
    metrics, curves = run(args.duration, device=args.device, seed=args.seed,
                          directory=os.path.join(args.out, 'project'))
    write_json(os.path.join(args.out, 'lagnet.json'), metrics)
    plot(metrics, curves, os.path.join(args.out, 'lagnet.png'))
    print(f'lagnet on {args.device}: loss {metrics["loss_start"]:.2e} -> {metrics["loss_end"]:.2e} '
          f'({metrics["loss_reduction"]:.0f}x) in {metrics["duration_ms"]:g} ms; w1 = ({metrics["w1"][0]:.4f}, '
          f'{metrics["w1"][1]:.4f}), target (-0.5, 1); {metrics["wall_seconds"]:.1f} s')
    return metrics, curves


if __name__ == '__main__':
    main()
