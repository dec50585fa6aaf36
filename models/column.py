"""A cortical column of GLE neurons learning a temporal task online: L4 -> L2/3 <-> L5, lateral and inhibitory
connections in L2/3, sparse projections, excitatory and inhibitory populations under Dale's law.

Populations: ``L4`` (the input layer: lagged neurons, tau_r < tau_m), ``L23`` (excitatory), ``L23i``
(inhibitory interneurons), ``L5`` (excitatory) and ``out`` (a linear read-out of L5). Projections:

=================  ====================  =====  ============
projection         synapses              sign   learns
=================  ====================  =====  ============
input -> L4        all-to-all                   yes
L4 -> L23          p = 0.5               +      yes
L23 -> L23         abs(i - j) <= 2, i!=j  +      no (lateral)
L23 -> L23i        p = 0.5               +      no
L23i -> L23        all-to-all            -      no
L23 -> L5          p = 0.5               +      yes
L5 -> L23          all-to-all                   no (top-down)
L5 -> out          all-to-all                   yes
=================  ====================  =====  ============

The populations in loops (L23, L23i, L5) are Latent Equilibrium neurons (tau_r = tau_m) and the loops' weights
are weak and fixed: errors that go round a loop are amplified by up to tau_m/tau_r per step and by the loop's
weights, and learning moves loop weights towards instability (docs/model.rst, 'Graphs').

Task: three sines in, a lagged teacher out: ``target_k(t) = 0.5 tanh(sum_j A_kj x_j(t - 1 ms))`` with a fixed
random ``A`` (seed 0). The column learns online (Adam every step, lr ``--lr``, MSE output error, beta 0.1) for
``--duration`` ms in runs of 50 ms; the loss is the mean squared output error in windows of 10 ms. Measured over
1000 ms (cpp_standalone, mean loss in fifths of the run): lr 1e-4: 0.0125, 0.0067, 0.0069, 0.0070, 0.0071 (halved
within 400 ms, then a plateau); lr 1e-3: flat at 0.014 (Adam's steps every 0.05 ms are too large); lr 1e-2: 0.09
to 0.04.

Outputs in ``--out``: ``column.json`` (metrics), ``column_learning.png`` (the loss over time),
``column_traces.png`` (u, r and err of every population in the last 20 ms, electrophysiology style),
``column_raster.png`` (Poisson spikes drawn from L5's rates in the last run, 1000 Hz per unit rate, 20 trials of
3 neurons, with the PSTH) and ``column.nwb`` (the last run's recording, where pynwb is installed).

Run::

    python -m models.column --device cpp_standalone --duration 2000 --out results/column
"""
import argparse
import importlib.util
import os
import time

import numpy as np
from brian2 import Hz, ms

from gle_brian import Adam, GLEGraph, Layer, Learning, Projection
from gle_brian.cli import output_folder, ranged
from gle_brian.devices import DEVICES
from gle_brian.io import to_nwb
from gle_brian.recording import poisson_spikes, record
from gle_brian.results import save_figure, write_json

DT = 0.05 * ms
RUN = 50.0                    # ms per run
WINDOW = 10.0                 # ms per loss sample
LAG = 1.0                     # ms, the teacher's lag
OMEGAS = (0.3, 0.7, 1.3)      # rad/ms, the input sines


def populations():
    return {'L4': Layer(20, 'tanh', tau_m=2 * ms, tau_r=0.5 * ms, bias=True),
            'L23': Layer(30, 'tanh', tau_m=1 * ms, bias=True),
            'L23i': Layer(8, 'tanh', tau_m=0.5 * ms),
            'L5': Layer(20, 'tanh', tau_m=1.5 * ms, bias=True),
            'out': Layer(2, 'linear', tau_m=0.5 * ms)}


def projections(seed):
    rng = np.random.default_rng(seed)

    def weak(n_post, n_pre, scale=0.05):
        return rng.uniform(-scale, scale, (n_post, n_pre))

    return [Projection('input', 'L4'),
            Projection('L4', 'L23', connect=dict(p=0.5), sign=+1),
            Projection('L23', 'L23', connect='abs(i - j) <= 2 and i != j', sign=+1, plastic=False,
                       weights=np.abs(weak(30, 30))),
            Projection('L23', 'L23i', connect=dict(p=0.5), sign=+1, plastic=False),
            Projection('L23i', 'L23', sign=-1, plastic=False, weights=-np.abs(weak(30, 8, 0.1))),
            Projection('L23', 'L5', connect=dict(p=0.5), sign=+1),
            Projection('L5', 'L23', plastic=False, weights=weak(30, 20)),
            Projection('L5', 'out')]


def signals(steps):
    """Input ``x`` (steps, 3) and the lagged teacher's target (steps, 2)."""
    t = np.arange(steps) * float(DT / ms)
    mix = np.random.default_rng(0).normal(size=(2, 3))
    x = np.column_stack([np.sin(omega * t) for omega in OMEGAS])
    lagged = np.column_stack([np.sin(omega * (t - LAG)) for omega in OMEGAS])
    return x, 0.5 * np.tanh(lagged @ mix.T)


def run(duration=2000.0, device='cpp_standalone', seed=1, lr=1e-4, directory=None):
    """Train the column online for ``duration`` ms; returns the metrics, the network and its recording."""
    run_steps = int(round(RUN / float(DT / ms)))
    runs = max(1, int(round(duration / RUN)))
    x, target = signals(runs * run_steps)
    net = GLEGraph(3, populations(), projections(seed), dt=DT, device=device, loss='mse', beta=0.1, seed=seed,
                   learning=Learning(Adam(lr=lr)), record=['r'], record_layers=[-1], directory=directory)
    recording = record(net, ['u', 'r', 'err'], neurons={q: [0, 1, 2] for q in range(4)} | {4: [0, 1]}, dt=2 * DT)
    start, losses = time.perf_counter(), []
    window = int(round(WINDOW / float(DT / ms)))
    for k in range(runs):
        steps = slice(k * run_steps, (k + 1) * run_steps)
        net.run(x[steps], target[steps])
        # the output rate stored after step n is compared with the target of step n + 1 (what it predicts)
        error = net.trace('r', -1)[:-1] - target[steps][1:]
        losses += [float(np.mean(error[w:w + window] ** 2)) for w in range(0, run_steps - window + 1, window)]
    elapsed = time.perf_counter() - start
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    metrics = {'model': 'column', 'device': device, 'seed': seed, 'lr': lr, 'dt_ms': float(DT / ms),
               'duration_ms': runs * RUN, 'populations': {name: layer.size for name, layer in populations().items()},
               'synapses': {f'{p.pre}->{p.post}': int(w.size if c is None else len(c[0]))
                            for p, w, c in zip(net.graph_projections, net.weights, net.connectivity)},
               'loss_first_50ms': float(first), 'loss_last_50ms': float(last), 'loss_reduction': float(first / last),
               'loss_window_ms': WINDOW, 'losses': losses, 'wall_seconds': elapsed}
    return metrics, net, recording


def plot_learning(metrics, path):
    from matplotlib.figure import Figure
    fig = Figure(figsize=(5, 3), layout='constrained')
    ax = fig.subplots()
    t = (np.arange(len(metrics['losses'])) + 1) * metrics['loss_window_ms']
    ax.semilogy(t, metrics['losses'], color='C0')
    ax.set_xlabel('time (ms)')
    ax.set_ylabel(f'output MSE ({metrics["loss_window_ms"]:g} ms windows)')
    ax.set_title('cortical column learning a lagged teacher online', fontsize=10)
    ax.spines[['top', 'right']].set_visible(False)
    save_figure(fig, path, dpi=110)


def write_outputs(metrics, net, recording, out):
    from gle_brian.plotting import plot_raster, plot_traces
    write_json(os.path.join(out, 'column.json'), metrics)
    plot_learning(metrics, os.path.join(out, 'column_learning.png'))
    save_figure(plot_traces(recording, ['u', 'r', 'err'], last=20 * ms), os.path.join(out, 'column_traces.png'),
                dpi=110)
    l5 = net.population_names.index('L5')
    t, i = poisson_spikes(recording['r', l5], recording.dt, rate_scale=1000 * Hz, trials=20, seed=0)
    duration = len(recording.t) * recording.dt
    save_figure(plot_raster(t, i, trains=60, duration=duration, neurons=3), os.path.join(out, 'column_raster.png'),
                dpi=110)
    if importlib.util.find_spec('pynwb') is not None:
        to_nwb(recording, os.path.join(out, 'column.nwb'), session_description='GLE cortical column, last run',
               spikes={l5: (t, i)})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cpp_standalone', choices=DEVICES)
    parser.add_argument('--duration', type=ranged(float, 2 * RUN), default=2000.0,
                        help=f'ms of online learning (runs of {RUN:g} ms)')
    parser.add_argument('--seed', type=ranged(int, 0), default=1)
    parser.add_argument('--lr', type=ranged(float, 0, strict=True), default=1e-4)
    parser.add_argument('--out', type=output_folder, default='results/column')
    args = parser.parse_args(argv)
    metrics, net, recording = run(args.duration, args.device, args.seed, args.lr,
                                  directory=os.path.join(args.out, 'project'))
    write_outputs(metrics, net, recording, args.out)
    print(f'cortical column on {args.device}: {metrics["duration_ms"]:g} ms of online learning in '
          f'{metrics["wall_seconds"]:.1f} s; output MSE {metrics["loss_first_50ms"]:.3g} -> '
          f'{metrics["loss_last_50ms"]:.3g} ({metrics["loss_reduction"]:.1f}x lower); figures in {args.out}')
    return metrics


if __name__ == '__main__':
    main()
