"""The paper's multi-seed results, reproduced: sweeps with the published seeds, band figures and a README table.

Each MNIST-1D experiment is a sweep (:mod:`gle_brian.sweep`) of a ready model into
``models/results/reproduce_<model>/`` with the seeds and settings of the published runs (no tuning). A sweep that
was stopped continues where it stopped, every seed from its last finished epoch, and the seeds still running
write their rows after every epoch, so the table and the figures can be made at any time: from the committed
files only, with an unfinished sweep labelled partial (which seeds reached which epoch). The LagLine and LagNet
rows read the results of ``models/results/lagline_seeds`` and ``models/results/lagnet``; LagLine's band figure
(``lagline_seeds/curves.png``) is drawn from its tasks' curves (``curves.csv``).

The table compares the mean +- std over seeds (population std, as the published numbers) at the last epoch with
the published runs' (``models/reference/``), and says whether the mean lies inside the published seeds' range.

Run::

    python -m models.reproduce --run mnist1d_e2e     # the sweep on both cores (resumes), then table and figure
    python -m models.reproduce                       # README.rst's table and the band figures from the results
    python -m models.reproduce --check               # exit status 1 if README.rst's table is not the results'
    git add -f $(python -m models.reproduce --unfinished)   # unfinished seeds' checkpoints: a clone continues them
"""
import argparse
import glob
import json
import os
import sys
import textwrap
from dataclasses import dataclass, replace

import numpy as np
import pandas

from gle_brian.results import save_figure
from gle_brian.sweep import ROWS, collect, report, sweep
from models import REFERENCE
from models.lagline import TEACHER

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, 'models', 'results')
README = os.path.join(ROOT, 'README.rst')
BEGIN, END = '.. reproduced results: begin', '.. reproduced results: end'


@dataclass(frozen=True)
class Experiment:
    """A multi-seed experiment: ``model`` swept over ``seeds`` for ``epochs`` into
    ``models/results/reproduce_<name>`` (``name``: the model's unless given)."""
    title: str
    model: str
    seeds: tuple
    epochs: int
    reference: str                     #: published per-epoch curve in models/reference (percent)
    metric: str = 'test_accuracy'
    scale: float = 100.0               #: metric to percent
    name: str = ''

    @property
    def folder(self):
        return os.path.join(RESULTS, f'reproduce_{self.name or self.model}')


E2E_SEEDS = (12, 32, 34, 42, 54, 56, 69, 76, 78, 98)      # the published end-to-end runs'
LAGMEMORY_SEEDS = tuple(range(10))                          # the published lag-memory runs'
EXPERIMENTS = {
    'mnist1d_e2e': Experiment('MNIST-1D end to end (6 x 53, 15k parameters)', 'mnist1d_e2e', E2E_SEEDS, 150,
                              'mnist1d_e2e_test_accuracy.csv'),
    'mnist1d_lagmemory': Experiment('MNIST-1D lag memory + LE classifier', 'mnist1d_lagmemory', LAGMEMORY_SEEDS, 150,
                                    'mnist1d_lagmemory_test_accuracy.csv'),
    'mnist1d_e2e_42k': Experiment('MNIST-1D end to end, 42k parameters (6 x 90: a shape inferred from the published '
                                  'code, see models/mnist1d_e2e_42k.py)', 'mnist1d_e2e_42k', E2E_SEEDS[:3], 150,
                                  'mnist1d_e2e_42k_test_accuracy.csv'),
}
# results kept, not run again: the first end-to-end sweep, whose hidden layers had one unit with tau_m = 0.6 ms too
# few and one LE unit too many (17, 18 and 18 units where the published code has 18, 18 and 17); the end-to-end and
# lag-memory sweeps run before the schedule had PyTorch's learning-rate floor (train's min_decay)
SUPERSEDED = (
    replace(EXPERIMENTS['mnist1d_e2e'], title='MNIST-1D end to end, superseded: run without the learning-rate floor',
            name='mnist1d_e2e_no_floor'),
    replace(EXPERIMENTS['mnist1d_lagmemory'], name='mnist1d_lagmemory_no_floor',
            title='MNIST-1D lag memory + LE classifier, superseded: run without the learning-rate floor'),
    replace(EXPERIMENTS['mnist1d_e2e'], name='mnist1d_e2e_split_17_18_18',
            title='MNIST-1D end to end, first sweep, superseded: per layer 17 units with tau_m = 0.6 ms, 18 with '
                  '1.2 ms (tau_r = dt) and 18 LE (published: 18, 18, 17), and without the learning-rate floor'),
)


def published(reference, epoch):
    """The published runs (``models/reference/<reference>``) at ``epoch``: dict of mean, std, min, max (percent)
    and the number of seeds."""
    curve = pandas.read_csv(os.path.join(REFERENCE, reference))
    row = curve[curve['epoch'] == epoch].iloc[0]
    seeds = [name for name in curve.columns if name.startswith('seed_')]
    return {'mean': row['mean'], 'std': row['std'], 'min': row['min'], 'max': row['max'], 'seeds': len(seeds)}


def published_text(reference, epoch):
    values = published(reference, epoch)
    return (f"{values['mean']:.2f} +- {values['std']:.2f} % ({values['min']:.1f}-{values['max']:.1f}), "
            f"n = {values['seeds']}")


def progress(experiment, table=None):
    """Where the sweep stands: dict with the per-seed last epochs (``reached``: seed -> epoch, seeds that have
    started), ``finished`` (seeds at the last epoch), the final values in percent of the finished seeds
    (``finals``), and the values in percent of every started seed at the last epoch they all reached (``common``:
    epoch, values)."""
    table = collect(experiment.folder, partial=True) if table is None else table
    reached, finals, common = {}, {}, None
    if len(table):
        table = table[table['seed'].isin(experiment.seeds) & (table['epochs'] == experiment.epochs)]
        for seed, rows in table.groupby('seed'):
            reached[int(seed)] = int(rows['epoch'].max())
            last = rows[rows['epoch'] == experiment.epochs]
            if len(last):
                finals[int(seed)] = float(last[experiment.metric].iloc[0]) * experiment.scale
        if reached:
            epoch = min(reached.values())
            common = (epoch, table[table['epoch'] == epoch][experiment.metric].to_numpy() * experiment.scale)
    return {'reached': reached, 'finished': sorted(finals), 'finals': finals, 'common': common}


def status_text(experiment, state):
    """``complete: 10 seeds, epoch 150`` or ``partial: ...`` naming the seeds that ran and their epochs."""
    seeds, finished = experiment.seeds, state['finished']
    if len(finished) == len(seeds):
        return f'complete: {len(seeds)} seeds, epoch {experiment.epochs}'
    running = [f'{seed} at epoch {epoch}' for seed, epoch in sorted(state['reached'].items()) if seed not in finished]
    waiting = len(seeds) - len(state['reached'])
    parts = [f'{len(finished)} of {len(seeds)} seeds at epoch {experiment.epochs}']
    if running:
        parts.append('stopped or running: seed ' + ', '.join(running))
    if waiting:
        parts.append(f'{waiting} not started')
    return 'partial: ' + '; '.join(parts)


def short_status(experiment, state):
    """The status in a figure's title: ``complete: 10 seeds`` or ``partial: 2 of 10 seeds at epoch 150, ...``."""
    seeds, finished = experiment.seeds, state['finished']
    if len(finished) == len(seeds):
        return f'complete: {len(seeds)} seeds, epoch {experiment.epochs}'
    text = f'partial: {len(finished)} of {len(seeds)} seeds at epoch {experiment.epochs}'
    others = [epoch for seed, epoch in state['reached'].items() if seed not in finished]
    if not others:
        return text
    epochs = f'epoch {min(others)}' if min(others) == max(others) else f'epochs {min(others)}-{max(others)}'
    return f'{text}, {len(others)} more at {epochs}'


def result_text(experiment, state):
    """Mean +- std (population) and range over the finished seeds, in percent; when none has finished, the same
    at the last epoch every started seed reached, next to the published runs at that epoch (a dash: none started)."""
    values = np.array([state['finals'][seed] for seed in state['finished']])
    if len(values):
        return f'{values.mean():.2f} +- {values.std():.2f} % ({values.min():.1f}-{values.max():.1f}), n = {len(values)}'
    if state['common'] is None:
        return '--'
    epoch, values = state['common']
    reference = published(experiment.reference, epoch)
    return (f"epoch {experiment.epochs} not reached; at epoch {epoch}: {values.mean():.2f} +- {values.std():.2f} %, "
            f"n = {len(values)} (published at epoch {epoch}: {reference['mean']:.2f} +- {reference['std']:.2f} %)")


def inside_text(experiment, state):
    """Whether the mean of the finished seeds lies inside the published seeds' range."""
    if not state['finished']:
        return '--'
    mean = np.mean([state['finals'][seed] for seed in state['finished']])
    reference = published(experiment.reference, experiment.epochs)
    return 'yes' if reference['min'] <= mean <= reference['max'] else 'no'


def mnist1d_row(experiment):
    state = progress(experiment)
    return [experiment.title, published_text(experiment.reference, experiment.epochs), result_text(experiment, state),
            inside_text(experiment, state), status_text(experiment, state),
            f'``{os.path.relpath(experiment.folder, ROOT)}/``']


LAGLINE_VARIANTS = ('gle', 'bp', 'bptt_tw4', 'bptt_tw2', 'bptt_tw1')
LAGLINE_SEEDS = 10


def lagline_row():
    """LagLine's sweep over ten seeds of GLE, instantaneous errors (bp) and the truncated-BPTT baselines, from
    models/results/lagline_seeds (finished tasks): per variant the final loss (mean +- population std) and the
    largest distance of w and tau_m from the teacher's over the seeds."""
    folder = os.path.join(RESULTS, 'lagline_seeds')
    table = collect(folder)
    cells, counts = [], []
    for variant in LAGLINE_VARIANTS:
        rows = table[table['variant'] == variant]
        counts.append(f'{variant} {len(rows)}')
        if len(rows):
            cells.append(f"{variant}: loss {rows['loss_end'].mean():.2g} +- {rows['loss_end'].std(ddof=0):.1g}, "
                         f"w and tau_m within {max(rows['w_error'].max(), rows['tau_m_error_ms'].max()):.1g}")
    complete = all(len(table[table['variant'] == variant]) == LAGLINE_SEEDS for variant in LAGLINE_VARIANTS)
    return ['LagLine teacher-student (GLE, instantaneous errors, truncated BPTT)',
            'GLE: w, tau_m recovered to ~1e-3, loss ~1e-11; instantaneous errors stall at ~1.3e-2',
            '; '.join(cells), '--',
            f"{'complete' if complete else 'partial'}: seeds per variant: {', '.join(counts)} (of "
            f'{LAGLINE_SEEDS}); full schedule, batch 100', f'``{os.path.relpath(folder, ROOT)}/``']


LAGLINE_PARAMETERS = {'w': ('w0', 'w1'), 'tau_m (ms)': ('tau_m0_ms', 'tau_m1_ms')}


def lagline_curves(folder):
    """The ``curves.csv`` of LagLine's finished tasks in ``folder`` as one table (pandas.DataFrame) with the
    columns ``seed``, ``variant`` and ``init_ms`` (when learning started) added; None when no finished task wrote
    one."""
    frames = []
    for row in collect(folder).itertuples():
        path = os.path.join(folder, 'tasks', row.task, 'curves.csv')
        if os.path.exists(path):
            frames.append(pandas.read_csv(path).assign(seed=row.seed, variant=row.variant, init_ms=row.init_ms))
    return pandas.concat(frames, ignore_index=True) if frames else None


def lagline_bands(curves):
    """Mean and population std over seeds, per variant and time, of log10(loss), w and tau_m: two DataFrames
    indexed by (variant, t_ms), and the number of seeds per variant."""
    curves = curves.assign(log10_loss=np.log10(curves['loss']))
    grouped = curves.groupby(['variant', 't_ms'])[['log10_loss', *sum(LAGLINE_PARAMETERS.values(), ())]]
    return grouped.mean(), grouped.std(ddof=0), curves.groupby('variant')['seed'].nunique().to_dict()


def lagline_figure(folder, path):
    """LagLine's band figure: per variant the loss (geometric mean, band: x/÷ the std of log10) over training time,
    and w and tau_m (mean +- std) over time, against the teacher's values; None when no task has its curves yet."""
    curves = lagline_curves(folder)
    if curves is None:
        return None
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    mean, std, seeds = lagline_bands(curves)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), layout='constrained')
    for number, variant in enumerate(v for v in LAGLINE_VARIANTS if v in seeds):
        colour, m, s = f'C{number}', mean.loc[variant], std.loc[variant]
        init_ms = curves.loc[curves['variant'] == variant, 'init_ms'].max()
        training = m.index > init_ms
        t = m.index[training] - init_ms
        low, high = (10 ** (m['log10_loss'][training] + sign * s['log10_loss'][training]) for sign in (-1, 1))
        axes[0].fill_between(t, low, high, color=colour, alpha=0.3, lw=0)
        axes[0].loglog(t, 10 ** m['log10_loss'][training], colour, label=f'{variant} ({seeds[variant]} seeds)')
        for ax, names in zip(axes[1:], LAGLINE_PARAMETERS.values()):
            for name, style in zip(names, ('-', '--')):
                ax.fill_between(m.index, m[name] - s[name], m[name] + s[name], color=colour, alpha=0.2, lw=0)
                ax.semilogx(m.index, m[name], colour, ls=style, label=f'{variant} {name.removesuffix("_ms")}')
    for ax, values in zip(axes[1:], (TEACHER['w'], TEACHER['tau_m'])):
        for value in values:
            ax.axhline(value, color='grey', lw=0.8, ls=':')
    for ax, (xlabel, ylabel) in zip(axes, [('training time (ms)', 'loss (MSE, 4 ms mean)'),
                                           *(('time (ms)', name) for name in LAGLINE_PARAMETERS)]):
        ax.set(xlabel=xlabel, ylabel=ylabel)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.spines[['top', 'right']].set_visible(False)
        ax.legend(fontsize=6, frameon=False, ncol=2 if ax is not axes[0] else 1)
    fig.suptitle('LagLine over seeds: mean ± std (loss: geometric mean, band ×/÷ std); dotted: the teacher')
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def lagnet_row():
    """LagNet (one run, as published), from models/results/lagnet/lagnet.json when it is there."""
    path = os.path.join(RESULTS, 'lagnet', 'lagnet.json')
    if not os.path.exists(path):
        return ['LagNet vs the exact adjoint', 'the paper\'s figure: W1 -> teacher', '--', '--', 'not run', '--']
    with open(path) as f:
        metrics = json.load(f)
    result = (f"GLE: loss {metrics['loss_start']:.2g} -> {metrics['loss_end']:.2g}, "
              f"W1 error {metrics['w1_error']:.1g}")
    if 'ie_loss_end' in metrics:
        result += (f"; adjoint (IE): loss {metrics['ie_loss_start']:.2g} -> {metrics['ie_loss_end']:.2g}, "
                   f"W1 error {metrics['ie_w1_error']:.1g}")
    return ['LagNet vs the exact adjoint', "the paper's figure: W1 -> teacher (-0.5, 1)", result, '--',
            f"one run, {metrics['duration_ms']:.0f} ms", '``models/results/lagnet/``']


HEADER = ['experiment', 'published', 'this package (last epoch)', 'mean inside published range', 'runs',
          'results']


SUPERSEDED_TEXT = 'Superseded runs, kept for comparison (the rows above run the same experiments as published):'


def rows():
    """The table's rows, from the committed results."""
    return [mnist1d_row(experiment) for experiment in EXPERIMENTS.values()] + [lagline_row(), lagnet_row()]


def superseded_rows():
    """The second table's rows: the superseded sweeps, from their committed results."""
    return [mnist1d_row(experiment) for experiment in SUPERSEDED]


def list_table(body):
    """The rows of ``body`` under the header as a reStructuredText list-table (lines)."""
    lines = ['.. list-table::', '   :header-rows: 1', '   :widths: 18 16 18 8 24 16', '']
    for row in [HEADER] + body:
        lines += [f'   * - {row[0]}'] + [f'     - {cell}' for cell in row[1:]]
    return lines


def table():
    """README.rst's 'Reproduced results' tables (the results, then the superseded runs), between its markers."""
    return '\n'.join([BEGIN, '', *list_table(rows()), '', SUPERSEDED_TEXT, '', *list_table(superseded_rows()), '',
                      END])


def readme_table(text):
    """The table as it stands in README.rst's ``text`` (between the markers), or None."""
    if BEGIN not in text or END not in text:
        return None
    return text[text.index(BEGIN):text.index(END) + len(END)]


def write_readme(path=README):
    """Replace the table in README.rst with the one made from the results."""
    with open(path) as f:
        text = f.read()
    old = readme_table(text)
    if old is None:
        raise SystemExit(f'{path} has no table markers ({BEGIN!r} ... {END!r}); add them where the table goes.')
    with open(path, 'w') as f:
        f.write(text.replace(old, table()))


def figures():
    """The band figure of every MNIST-1D sweep (``<folder>/test_accuracy.png``), titled with its status, and
    LagLine's (``lagline_seeds/curves.png``)."""
    for experiment in (*EXPERIMENTS.values(), *SUPERSEDED):
        if os.path.isdir(os.path.join(experiment.folder, 'tasks')):
            title = f'{textwrap.fill(experiment.title, 46)}\n{short_status(experiment, progress(experiment))}'
            report(experiment.folder, partial=True, title=title)
    folder = os.path.join(RESULTS, 'lagline_seeds')
    lagline_figure(folder, os.path.join(folder, 'curves.png'))


def run(name, workers=None):
    """Run (or continue) the sweep of ``EXPERIMENTS[name]``; returns the sweep's result."""
    experiment = EXPERIMENTS[name]
    return sweep(experiment.model, {'seed': list(experiment.seeds), 'epochs': [experiment.epochs]},
                 out=experiment.folder, workers=workers)


def unfinished_checkpoints():
    """The checkpoint files of the seeds that have started but not finished, relative to the checkout: git keeps
    checkpoints out, so commit these (``git add -f``) for a fresh clone to continue those seeds."""
    paths = []
    for experiment in EXPERIMENTS.values():
        for path in sorted(glob.glob(os.path.join(glob.escape(experiment.folder), 'tasks', '*', 'checkpoint.npz'))):
            if not os.path.exists(os.path.join(os.path.dirname(path), ROWS)):
                paths.append(os.path.relpath(path, ROOT))
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--run', choices=list(EXPERIMENTS), help='run (or continue) this sweep first')
    parser.add_argument('--workers', type=int, default=None, help='worker processes (default: one per core)')
    parser.add_argument('--check', action='store_true', help="only compare README.rst's table with the results")
    parser.add_argument('--unfinished', action='store_true',
                        help='only print the checkpoints of the seeds that have not finished (for git add -f)')
    args = parser.parse_args(argv)
    if args.unfinished:
        print('\n'.join(unfinished_checkpoints()))
        return
    if args.check:
        with open(README) as f:
            same = readme_table(f.read()) == table()
        print('README.rst: the reproduced-results table matches the results' if same else
              'README.rst: the reproduced-results table differs from the results; run python -m models.reproduce')
        sys.exit(0 if same else 1)
    if args.run:
        run(args.run, args.workers)
    figures()
    write_readme()
    print(table())


if __name__ == '__main__':
    main()
