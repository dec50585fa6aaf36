"""A three-layer GLE network end to end: it learns a teacher signal online; traces of every compartment, checked
against the reference step.

A 1 -> 12 -> 8 -> 1 network (two tanh hidden layers that mix fast "lagged" units, tau_r < tau_m, with
Latent Equilibrium units, tau_r = tau_m, and a linear LE output) is driven by a sum of sines and learns to give a
teacher's output: the teacher is a network of the same layers with other, fixed weights. The output error (MSE)
flows down through the apical dendrites while the network runs and every weight learns from its neuron's error
(Adam, every step).
1 a.u. of the paper is 1 ms here (dt = 0.01 ms).

The network runs 100 ms without a target (before learning), ``--passes`` passes of 100 ms with the target and
learning on (the learning rate falling by 0.8 a pass), and 100 ms without a target again (after learning). The
script prints how far the first run is from the numpy mirror of the reference step, the measured phase advance
of the prospective potential over the membrane potential of a lagged unit next to the analytic transfer function
(1 + i w tau_r), and the output's error before and after learning; it writes ``traces.png`` (every compartment,
before learning), ``learning.png`` (the teacher, the output before and after, the error over time) and
``result.json`` to ``--out``.

Run::

    python -m models.demo --device cpp_standalone --out results/demo
"""
import argparse
import os
import time

import numpy as np
from brian2 import ms

from gle_brian import Adam, GLENetwork, Layer, Learning, ReferenceNetwork, init_weights
from gle_brian.cli import non_negative_int, output_folder, positive_float
from gle_brian.devices import DEVICES
from gle_brian.reference import VARIABLES
from gle_brian.results import save_figure, write_json

DT = 0.01 * ms
STEPS = 10000   # 100 ms
OMEGAS = (0.49, 1.07, 1.98)   # input frequencies (rad/ms)


LEARNING_RATE, DECAY = 1e-3, 0.8    # Adam's learning rate in the first pass, and its factor per pass
TEACHER_SEED = 7
WINDOW = 500                        # steps per point of the error over time (5 ms)


def build_layers():
    hidden = Layer(12, 'tanh', gamma=0.1).with_groups((6, 1 * ms, 0.1 * ms), (6, 1 * ms))
    second = Layer(8, 'tanh', gamma=0.1).with_groups((4, 2 * ms, 0.2 * ms), (4, 0.5 * ms))
    return [hidden, second, Layer(1, 'linear', tau_m=1 * ms)]


def signals(steps=STEPS):
    """The input (a sum of sines) and the teacher's output: a network of the same layers with other, fixed weights
    (``init_weights`` of seed 7, times 1.5), run by the numpy mirror of the reference step."""
    t = np.arange(steps) * float(DT / ms)
    x = sum(np.sin(omega * t) for omega in OMEGAS)[:, None]
    layers = build_layers()
    weights = [1.5 * w for w in init_weights([1] + [layer.size for layer in layers], seed=TEACHER_SEED)]
    return x, ReferenceNetwork(1, layers, weights, dt=DT).run(x)['r'][-1][:, 0, 0]


def phase_advance(u, u_breve, t, omega):
    """Phase of ``u_breve`` minus phase of ``u`` at ``omega`` (rad), fitting all input sines at once."""
    basis = np.column_stack([f(w * t) for w in OMEGAS for f in (np.sin, np.cos)] + [np.ones_like(t)])
    coefficients = np.linalg.lstsq(basis, np.column_stack([u, u_breve]), rcond=None)[0]
    k = 2 * OMEGAS.index(omega)
    amplitude_u, amplitude_ub = coefficients[k] + 1j * coefficients[k + 1]
    return np.angle(amplitude_ub / amplitude_u)


def plot(traces, path):
    """Every compartment of up to 4 neurons per layer (``traces``: variable -> per layer ``(steps, neurons)``)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    t = np.arange(STEPS) * float(DT / ms)
    rows = [('u', 'membrane u'), ('u_breve', 'prospective u_breve'), ('r', 'rate r'), ('err', 'error e')]
    layers = len(traces['u'])
    fig, axes = plt.subplots(len(rows), layers, figsize=(12, 8), sharex=True)
    for l in range(layers):
        for k, (variable, label) in enumerate(rows):
            ax = axes[k, l]
            ax.plot(t, traces[variable][l][:, :4], lw=0.8)
            ax.spines[['top', 'right']].set_visible(False)
            if l == 0:
                ax.set_ylabel(label)
            if k == 0:
                size = traces['u'][l].shape[1]
                ax.set_title(f'layer {l + 1}: ' + (f'4 of {size} neurons' if size > 4 else f'{size} neuron(s)'))
        axes[-1, l].set_xlabel('time (ms)')
    fig.suptitle('GLE network 1-12-8-1 driven by a sum of sines, before learning')
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def plot_learning(target, before, after, errors, path):
    """The teacher and the output before and after learning (last 50 ms of a pass), and the output's error over
    the training passes (root mean square per window)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    t = np.arange(STEPS) * float(DT / ms)
    shown = t >= t[-1] - 50
    fig, axes = plt.subplots(2, 1, figsize=(8, 5.5), layout='constrained')
    axes[0].plot(t[shown], target[shown], color='k', lw=2, label='teacher')
    axes[0].plot(t[shown], before[shown], '--', color='C0', label='output before learning')
    axes[0].plot(t[shown], after[shown], color='C1', label='output after learning')
    axes[0].set(xlabel='time in the pass (ms)', ylabel='output rate r', title='the output learns the teacher')
    axes[0].legend(fontsize=8, ncols=3)
    per_pass = STEPS // WINDOW
    axes[1].plot(np.arange(len(errors)) * WINDOW * float(DT / ms), errors, color='C3', lw=1)
    for k in range(1, len(errors) // per_pass):
        axes[1].axvline(k * STEPS * float(DT / ms), color='0.85', lw=0.8)
    axes[1].set(xlabel='training time (ms; grey lines: a new pass, the learning rate x 0.8)',
                ylabel='output error (rms per 5 ms)', title='error over time, learning on')
    axes[1].set_ylim(0, None)
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def rms(output, target):
    return float(np.sqrt(np.mean((output - target) ** 2)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cpp_standalone', choices=DEVICES)
    parser.add_argument('--out', type=output_folder, default='results/demo')
    parser.add_argument('--seed', type=non_negative_int, default=1)
    parser.add_argument('--passes', type=non_negative_int, default=12, help='training passes of 100 ms')
    parser.add_argument('--lr', type=positive_float, default=LEARNING_RATE, help="Adam's learning rate, first pass")
    args = parser.parse_args(argv)

    layers = build_layers()
    x, target = signals()
    start = time.perf_counter()
    net = GLENetwork(1, layers, dt=DT, device=args.device, loss='mse', beta=0.5, seed=args.seed,
                     learning=Learning(Adam(lr=args.lr)), record=VARIABLES, directory=os.path.join(args.out, 'project'))
    initial = net.weights
    net.run(x)                                             # before learning: no target, no error, nothing learned
    before = {variable: [net.trace(variable, l) for l in range(len(layers))] for variable in VARIABLES}
    errors = []
    for k in range(args.passes):
        net.set_learning_rate(args.lr * DECAY ** k)
        net.run(x, target[:, None])                        # learning on
        error = (net.trace('r', 2)[:, 0] - target) ** 2
        errors += list(np.sqrt(error.reshape(-1, WINDOW).mean(axis=1)))
    net.run(x)                                             # after learning
    after = net.trace('r', 2)[:, 0]
    elapsed = time.perf_counter() - start

    reference = ReferenceNetwork(1, layers, initial, dt=DT, beta=0.5).run(x)
    deviation = max(np.abs(before[v][l] - reference[v][l][:, 0]).max()
                    for v in VARIABLES for l in range(len(layers)))
    # phase advance of a lagged unit of layer 1 (tau_m = 1 ms, tau_r = 0.1 ms) at the fastest input sine;
    # u^n is stored after step n - 1 and u_breve^n after step n
    t = np.arange(STEPS) * float(DT / ms)
    late = t > 20
    omega, tau_r = OMEGAS[-1], 0.1
    measured = phase_advance(before['u'][0][:-1, 0][late[1:]], before['u_breve'][0][1:, 0][late[1:]],
                             t[1:][late[1:]], omega)
    expected = np.arctan(omega * tau_r)
    result = {'device': args.device, 'steps': STEPS, 'dt_ms': float(DT / ms),
              'max_abs_deviation_from_reference_step': float(deviation),
              'phase_advance_prospective_over_membrane_rad': float(measured),
              'phase_advance_analytic_rad': float(expected),
              'learning_passes': args.passes, 'learning_rate': args.lr,
              'output_rms_error_before_learning': rms(before['r'][2][late, 0], target[late]),
              'output_rms_error_after_learning': rms(after[late], target[late]),
              'build_and_run_seconds': elapsed}
    write_json(os.path.join(args.out, 'result.json'), result)
    plot(before, os.path.join(args.out, 'traces.png'))
    plot_learning(target, before['r'][2][:, 0], after, errors, os.path.join(args.out, 'learning.png'))
    print(f'GLE 1-12-8-1 on {args.device}: {(args.passes + 2) * STEPS} steps in {elapsed:.1f} s; max |Brian2 - '
          f'reference step| = {deviation:.1e}; u_breve leads u by {measured:.4f} rad at {omega} rad/ms (analytic '
          f'atan(w tau_r) = {expected:.4f}); output error {result["output_rms_error_before_learning"]:.3f} before '
          f'and {result["output_rms_error_after_learning"]:.3f} after learning ({args.passes} passes of 100 ms); '
          f'figures: {os.path.join(args.out, "traces.png")}, {os.path.join(args.out, "learning.png")}')
    return result


if __name__ == '__main__':
    main()
