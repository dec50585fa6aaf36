"""Figures of GLE recordings in the style of electrophysiology: traces with scale bars, Bode plots, rasters.

Every function returns a :class:`matplotlib.figure.Figure` made without ``pyplot`` (it renders with the
Agg backend, so it works on machines without a display); save it with ``fig.savefig('name.png')``.

Example::

    >>> from gle_brian.plotting import plot_traces, plot_bode
    >>> fig = plot_traces(rec, ['u', 'r', 'err'], time_bar=1*ms)              # doctest: +SKIP
    >>> fig = plot_bode(1*ms, 0.1*ms, measured=(frequencies, H, G))           # doctest: +SKIP
    >>> fig.savefig('bode.png', dpi=150)                                      # doctest: +SKIP
"""
import numpy as np
from brian2 import Hz, ms, second
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .recording import transfer_function

__all__ = ['plot_traces', 'plot_sine_response', 'plot_bode', 'plot_raster', 'plot_microcircuit', 'plot_band']

#: figure labels of the variables whose symbol is not their name
LABELS = {'u_breve': 'ŭ', 'r_prime': "φ'", 'err': 'e'}
COLORS = {'u': '#1f4e79', 'u_breve': '#2e75b6', 'r': '#c00000', 'err': '#548235', 'v': '#70ad47',
          'I_basal': '#7f7f7f', 'I_apical': '#bf9000', 'r_prime': '#7030a0', 'w': '#404040'}


def _nice(value):
    """A round number (1, 2 or 5 times a power of ten) close to ``value``, for scale bars."""
    if not value > 0:
        return 1.0
    power = 10 ** np.floor(np.log10(value))
    return min((1, 2, 5, 10), key=lambda m: abs(np.log(m * power / value))) * power


def _scale_bar(ax, x, y, dx=0, dy=0, label='', color='k'):
    ax.plot([x, x + dx], [y, y + dy], color=color, lw=2, solid_capstyle='butt', clip_on=False)
    if dx:
        ax.text(x + dx / 2, y, label, ha='center', va='top', fontsize=8)
    else:
        ax.text(x, y + dy / 2, label + ' ', ha='right', va='center', fontsize=8)


def plot_traces(rec, variables=None, layers=None, neurons=None, time_bar=None, time_unit=ms, last=None):
    """Stacked traces with scale bars, one row per variable and one column per layer.

    Parameters
    ----------
    rec : Recording
        From :func:`gle_brian.recording.record`.
    variables : sequence of str or None
        Rows, top to bottom (default: every recorded neuron variable).
    layers : sequence of int or None
        Columns (default: every recorded layer).
    neurons : sequence of int or None
        Positions among the recorded neurons of each layer (default: all; positions a layer lacks are
        skipped); overlaid in one panel, the first darkest.
    time_bar : Quantity or None
        Length of the time scale bar (default: a round number near a fifth of the run).
    time_unit : Quantity
        Unit of the time bar label.
    last : Quantity or None
        Plot only this much of the end of the run (default: all of it).

    Example::

        >>> fig = plot_traces(rec, ['u', 'u_breve', 'r', 'err'], neurons=[0])  # doctest: +SKIP
    """
    variables = [v for v in (variables or rec.variables) if v != 'w']
    layers = rec.layers if layers is None else list(layers)
    t = np.asarray(rec.t / time_unit)
    shown = slice(None) if last is None else t > t[-1] - float(last / time_unit)
    t = t[shown]
    span = t[-1] - t[0] if len(t) > 1 else 1.0
    bar = _nice(span / 5) if time_bar is None else float(time_bar / time_unit)
    fig = Figure(figsize=(3.2 * len(layers) + 0.6, 1.1 * len(variables) + 0.6), layout='constrained')
    axes = np.array(fig.subplots(len(variables), len(layers), squeeze=False, sharex=True))
    names = getattr(rec.net, 'population_names', None)      # a GLEGraph's populations go by name
    for column, layer in enumerate(layers):
        axes[0, column].set_title(names[layer] if names else f'layer {layer}', fontsize=10)
        for row, variable in enumerate(variables):
            ax = axes[row, column]
            values = np.asarray(rec[variable, layer])[shown]
            values = values if neurons is None else values[:, [k for k in neurons if k < values.shape[1]]]
            shades = np.linspace(1, 0.45, values.shape[1])
            for k in range(values.shape[1]):
                ax.plot(t, values[:, k], color=COLORS.get(variable, 'k'), alpha=shades[k], lw=1.2)
            ax.set_axis_off()
            low, high = values.min(), values.max()
            height = _nice((high - low) / 2) if high > low else 1.0
            ax.set_ylim(low - 0.1 * (high - low + 1e-12), max(high, low + height) + 0.1 * (high - low + 1e-12))
            ax.axhline(0, color='0.85', lw=0.6, zorder=0)
            _scale_bar(ax, t[0] - 0.03 * span, low, dy=height, label=f'{height:g}')
            if column == 0:
                ax.text(-0.12, 0.5, LABELS.get(variable, variable), transform=ax.transAxes, ha='right',
                        va='center', fontsize=11, color=COLORS.get(variable, 'k'))
        ax = axes[-1, column]
        low = ax.get_ylim()[0]
        _scale_bar(ax, t[-1] - bar, low, dx=bar, label=f'{bar:g} {time_unit!s}')
    for ax in axes.ravel():
        ax.set_xlim(t[0] - 0.08 * span, t[-1] + 0.01 * span)
    return fig


def plot_sine_response(rec, layer=0, neuron=0, periods=2, time_unit=ms):
    """The prospective rate leads the membrane potential: input, ``u`` and ``r`` for a sine input.

    Draws the last ``periods`` periods of the basal input ``I_basal``, ``u`` and ``r`` of one neuron,
    each normalised to its amplitude, with their peaks marked; the lead of ``r`` over ``u`` is the
    phase advance ``arctan(omega tau_r)``. ``rec`` must hold ``I_basal``, ``u`` and ``r``.

    Example::

        >>> fig = plot_sine_response(rec, layer=0, neuron=0)                  # doctest: +SKIP
    """
    t = np.asarray(rec.t / time_unit)
    signals = {name: np.asarray(rec[name, layer])[:, neuron] for name in ('I_basal', 'u', 'r')}
    drive = signals['I_basal'] - signals['I_basal'].mean()
    crossings = np.nonzero((drive[:-1] < 0) & (drive[1:] >= 0))[0]
    if len(crossings) < periods + 1:
        raise ValueError(f'periods={periods}: the recording holds fewer than {periods + 1} periods of the input; '
                         'record longer or ask for fewer periods.')
    window = slice(crossings[-periods - 1], crossings[-1] + 1)
    fig = Figure(figsize=(6, 3), layout='constrained')
    ax = fig.subplots()
    names = {'I_basal': 'basal input', 'u': 'membrane potential u', 'r': 'rate r = φ(ŭ)'}
    peaks = {}
    for name, values in signals.items():
        x, y = t[window], values[window] - values[window].mean()
        y = y / np.abs(y).max()
        color = COLORS.get(name, 'k')
        dashed = name == 'I_basal'
        ax.plot(x, y, color=color, lw=1 if dashed else 2, ls='--' if dashed else '-', label=names[name])
        peaks[name] = x[np.argmax(y[: len(y) // periods])]
        ax.axvline(peaks[name], color=color, lw=0.8, alpha=0.6)
    ax.annotate('', xy=(peaks['r'], 1.08), xytext=(peaks['u'], 1.08),
                arrowprops=dict(arrowstyle='->', color=COLORS['r'], lw=1.5))
    ax.text((peaks['r'] + peaks['u']) / 2, 1.12, f"r leads u by {peaks['u'] - peaks['r']:.2g} {time_unit!s}",
            ha='center', va='bottom', fontsize=9, color=COLORS['r'])
    ax.set_ylim(-1.1, 1.3)
    ax.set_xlabel(f'time ({time_unit!s})')
    ax.set_ylabel('normalised')
    ax.spines[['top', 'right']].set_visible(False)
    ax.legend(frameon=False, fontsize=8, loc='lower left')
    return fig


def plot_bode(tau_m, tau_r, frequencies=None, measured=None, dt=None):
    """Bode plot of a GLE neuron: ``H = (1 + s tau_r)/(1 + s tau_m)`` and ``G = 1/H`` over frequency.

    Parameters
    ----------
    tau_m, tau_r : Quantity
        Time constants of the neuron.
    frequencies : Quantity or None
        Frequency axis of the analytic curves (default: three decades around ``1/(2 pi tau_m)``).
    measured : tuple or None
        ``(frequencies, H, G)`` simulated complex gains (e.g. from
        :func:`gle_brian.recording.frequency_response`), drawn as points on the curves; ``G`` may be None.
    dt : Quantity or None
        Also draw the exact transfer functions of the discrete Euler step (dotted).

    Example::

        >>> f = np.logspace(1, 4, 8)*Hz                                       # doctest: +SKIP
        >>> H = frequency_response(1*ms, 0.1*ms, f, dt=0.01*ms)               # doctest: +SKIP
        >>> fig = plot_bode(1*ms, 0.1*ms, measured=(f, H, None))              # doctest: +SKIP
    """
    if frequencies is None:
        corner = 1 / (2 * np.pi * float(tau_m))
        frequencies = np.logspace(np.log10(corner) - 1.5, np.log10(corner) + 2, 300) * Hz
    f = np.asarray(frequencies / Hz)
    fig = Figure(figsize=(5.5, 4.5), layout='constrained')
    gain_ax, phase_ax = fig.subplots(2, 1, sharex=True)
    paths = {'forward': ('H: input → ŭ (forward)', '#2e75b6'), 'error': ('G = 1/H: ε → e (error)', '#548235')}
    for k, (path, (label, color)) in enumerate(paths.items()):
        gain = transfer_function(frequencies, tau_m, tau_r, path=path)
        gain_ax.loglog(f, np.abs(gain), color=color, lw=2, label=label)
        phase_ax.semilogx(f, np.degrees(np.angle(gain)), color=color, lw=2)
        if dt is not None:
            discrete = transfer_function(frequencies, tau_m, tau_r, path=path, dt=dt)
            gain_ax.loglog(f, np.abs(discrete), color=color, lw=1, ls=':')
            phase_ax.semilogx(f, np.degrees(np.angle(discrete)), color=color, lw=1, ls=':')
        if measured is not None and measured[1 + k] is not None:
            f_sim, sim = np.asarray(measured[0] / Hz), np.asarray(measured[1 + k])
            gain_ax.loglog(f_sim, np.abs(sim), 'o', color=color, mec='k', ms=5,
                           label='simulated' if k == 1 else None)
            phase_ax.semilogx(f_sim, np.degrees(np.angle(sim)), 'o', color=color, mec='k', ms=5)
    for tau, name in ((tau_m, 'τ_m'), (tau_r, 'τ_r')):
        for ax in (gain_ax, phase_ax):
            ax.axvline(1 / (2 * np.pi * float(tau)), color='0.6', lw=0.8, ls='--')
        gain_ax.text(1 / (2 * np.pi * float(tau)), gain_ax.get_ylim()[1], f' 1/2π{name}', fontsize=8, va='top',
                     color='0.4')
    gain_ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 3, 5)))
    gain_ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f'{value:g}'))
    gain_ax.yaxis.set_minor_formatter(NullFormatter())
    gain_ax.set_ylabel('gain')
    phase_ax.set_ylabel('phase (degrees)')
    phase_ax.set_xlabel('frequency (Hz)')
    phase_ax.axhline(0, color='0.85', lw=0.6)
    gain_ax.legend(frameon=False, fontsize=8)
    gain_ax.set_title(f'τ_m = {float(tau_m / ms):g} ms, τ_r = {float(tau_r / ms):g} ms', fontsize=10)
    for ax in (gain_ax, phase_ax):
        ax.spines[['top', 'right']].set_visible(False)
    return fig


def plot_raster(t, i, trains, duration, bin_size=None, time_unit=ms, neurons=1, expected=None):
    """Spike raster with the peri-stimulus time histogram (PSTH) below.

    Parameters
    ----------
    t, i : Quantity, array
        Spike times and spike-train indices (e.g. from :func:`gle_brian.recording.poisson_spikes`).
    trains : int
        Number of spike trains (rows of the raster).
    duration : Quantity
        Length of the recording.
    bin_size : Quantity or None
        PSTH bin (default: ``duration / 50``).
    neurons : int
        Trains ``k`` with the same ``k % neurons`` belong to one neuron: one colour and one PSTH per neuron.
    expected : tuple or None
        ``(times, rates)`` (Quantities, rates in Hz, one column per neuron) drawn over the PSTH, e.g. the
        scaled rate the spikes were drawn from.

    Example::

        >>> t, i = poisson_spikes(rec['r', -1], rec.dt, rate_scale=200*Hz, trials=30, seed=0)  # doctest: +SKIP
        >>> fig = plot_raster(t, i, trains=30, duration=rec.t[-1] + rec.dt)   # doctest: +SKIP
    """
    bin_size = duration / 50 if bin_size is None else bin_size
    edges = np.arange(0, float(duration / second) + 1e-15, float(bin_size / second))
    fig = Figure(figsize=(6, 4), layout='constrained')
    raster_ax, psth_ax = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    x = np.asarray(t / time_unit)
    colors = [f'C{k}' for k in range(neurons)]
    order = np.argsort(i % neurons, kind='stable') if neurons > 1 else slice(None)
    rows = (i % neurons) * (trains // neurons) + i // neurons       # group the trials of each neuron
    raster_ax.scatter(x[order], rows[order], s=25, marker='|', linewidths=1.2,
                      c=[colors[k] for k in (i % neurons)[order]])
    raster_ax.set_ylabel('trial' if neurons == 1 else 'neuron × trial')
    raster_ax.set_ylim(-1, trains)
    for k in range(neurons):
        counts, _ = np.histogram(np.asarray(t / second)[i % neurons == k], edges)
        rate = counts / (trains / neurons) / float(bin_size / second)
        psth_ax.stairs(rate, edges / float(time_unit / second), color=colors[k], fill=neurons == 1, alpha=0.8)
    if expected is not None:
        times, rates = expected
        psth_ax.plot(np.asarray(times / time_unit), np.asarray(rates / Hz), color='k', lw=1.2, label='rate')
        psth_ax.legend(frameon=False, fontsize=8, loc='upper right')
    psth_ax.set_ylabel('rate (Hz)')
    psth_ax.set_xlabel(f'time ({time_unit!s})')
    for ax in (raster_ax, psth_ax):
        ax.spines[['top', 'right']].set_visible(False)
    return fig


def plot_microcircuit(net):
    """Schematic of a network in microcircuit form: populations, projections and one-to-one links.

    Representation populations (triangles) on the left, error populations (circles) on the right, one
    row per layer with its size and time constants; the input at the bottom.

    Example::

        >>> fig = plot_microcircuit(MicrocircuitNetwork(2, layers, dt=0.1*ms, device='numpy'))  # doctest: +SKIP
    """
    n_layers = len(net.layers)
    fig = Figure(figsize=(6, 1.6 * n_layers + 1.2), layout='constrained')
    ax = fig.subplots()
    ax.set_axis_off()
    rep_x, err_x = 0.0, 1.6
    arrow = dict(arrowstyle='-|>', lw=1.5, shrinkA=14, shrinkB=14)
    ax.plot(rep_x, 0, 's', ms=16, color='0.6')
    ax.text(rep_x - 0.3, 0, f'input\n{net.n_in}', ha='right', va='center', fontsize=9)
    for l, (layer, (tau_m, tau_r)) in enumerate(zip(net.layers, net.time_constants), start=1):
        ax.plot(rep_x, l, '^', ms=20, color=COLORS['r'])
        ax.plot(err_x, l, 'o', ms=17, color=COLORS['err'])
        ax.text(rep_x - 0.3, l, f'layer {l - 1} (n = {layer.size})\n' + _tau_text(tau_m, tau_r), ha='right',
                va='center', fontsize=8)
        ax.text(err_x + 0.3, l, f'error {l - 1} (n = {layer.size})\nlow-pass τ_r, look-ahead τ_m', ha='left',
                va='center', fontsize=8)
        ax.annotate('', xy=(rep_x, l), xytext=(rep_x, l - 1), arrowprops=dict(arrow, color='k'))
        ax.text(rep_x + 0.05, l - 0.55, 'W (basal)', fontsize=8)
        ax.annotate('', xy=(err_x - 0.05, l + 0.08), xytext=(rep_x + 0.05, l + 0.08),
                    arrowprops=dict(arrow, color=COLORS['r_prime'], ls='--'))
        ax.text((rep_x + err_x) / 2, l + 0.14, "φ', apical input", ha='center', fontsize=8, color=COLORS['r_prime'])
        ax.annotate('', xy=(rep_x + 0.05, l - 0.08), xytext=(err_x - 0.05, l - 0.08),
                    arrowprops=dict(arrow, color=COLORS['err'], ls='--'))
        ax.text((rep_x + err_x) / 2, l - 0.24, 'e (apical compartment)', ha='center', fontsize=8,
                color=COLORS['err'])
        if l > 1:
            ax.annotate('', xy=(rep_x - 0.12, l - 1), xytext=(rep_x - 0.12, l),
                        arrowprops=dict(arrow, color=COLORS['err'], connectionstyle='arc3,rad=0.35'))
            ax.text(rep_x - 0.42, l - 0.5, 'Wᵀe\n(apical)', fontsize=8, color=COLORS['err'], ha='right',
                    va='center')
    if net.loss is not None:
        ax.annotate('', xy=(rep_x, n_layers + 0.05), xytext=(rep_x, n_layers + 0.7),
                    arrowprops=dict(arrow, color=COLORS['err'], shrinkA=0))
        ax.text(rep_x + 0.1, n_layers + 0.6, f'β (target − r), β = {net.beta:g}', fontsize=8, color=COLORS['err'])
    ax.text(err_x - 0.3, 0.12, '▲', color=COLORS['r'], fontsize=10, va='center')
    ax.text(err_x - 0.1, 0.12, 'representation neurons', fontsize=8, va='center')
    ax.text(err_x - 0.3, -0.12, '●', color=COLORS['err'], fontsize=10, va='center')
    ax.text(err_x - 0.1, -0.12, 'error neurons', fontsize=8, va='center')
    ax.set_xlim(-1.6, 3.2)
    ax.set_ylim(-0.5, n_layers + 0.9)
    return fig


def plot_band(table, metric, x='epoch', over='seed', reference=None, reference_scale=1.0, title=None):
    """A metric of a sweep as mean +- std over ``over`` (seeds) against ``x``, one band per combination of the
    other parameters, over the range of ``x`` the sweep has run; thin lines are the single runs. The std is the
    sample standard deviation (``ddof=1``, as pandas computes it).

    ``table`` is a sweep's table (:func:`gle_brian.sweep.collect`); ``reference`` a CSV file (or DataFrame)
    with columns ``x``, ``mean`` and ``std`` (e.g. published runs), multiplied by ``reference_scale`` to the
    units of ``metric``, drawn as a grey band. Example::

        >>> fig = plot_band(result.table, 'test_accuracy', reference='reference.csv',
        ...                 reference_scale=0.01)                                   # doctest: +SKIP
    """
    import pandas
    # one band per combination of the parameters that vary (one that has one value names no band)
    parameters = [name for name in table.attrs.get('parameters', []) if name not in (over, x)
                  and table[name].nunique(dropna=False) > 1]
    fig = Figure(figsize=(5.5, 3.6), layout='constrained')
    ax = fig.add_subplot()
    if reference is not None:
        curve = pandas.read_csv(reference) if isinstance(reference, str) else reference
        mean, std = curve['mean'] * reference_scale, curve['std'] * reference_scale
        ax.fill_between(curve[x], mean - std, mean + std, color='0.8', lw=0, label='reference (mean ± std)')
        ax.plot(curve[x], mean, color='0.5', lw=1)
    groups = table.groupby(parameters, sort=True) if parameters else [((), table)]
    for number, (values, group) in enumerate(groups):
        values = values if isinstance(values, tuple) else (values,)
        color = f'C{number % 10}'
        for _, run in group.groupby(over) if over in group else [(None, group)]:
            ax.plot(run[x], run[metric], color=color, lw=0.5, alpha=0.35)
        statistics = group.groupby(x)[metric].agg(['mean', 'std', 'count'])
        spread = statistics['std'].fillna(0)
        runs = int(statistics['count'].max())
        label = ', '.join(f'{name}={value}' for name, value in zip(parameters, values)) or 'this package'
        ax.fill_between(statistics.index, statistics['mean'] - spread, statistics['mean'] + spread, color=color,
                        alpha=0.3, lw=0)
        ax.plot(statistics.index, statistics['mean'], color=color, lw=1.5,
                label=f"{label} ({runs} {over}{'s' * (runs != 1)})")
    ax.set(xlabel=x, ylabel=metric.replace('_', ' '), title=title, xlim=(table[x].min(), table[x].max()))
    ax.spines[['top', 'right']].set_visible(False)
    ax.legend(fontsize=7, frameon=False)
    return fig


def _tau_text(tau_m, tau_r):
    """``τ_m = 10 ms, τ_r = 2 ms`` for one value, ranges for several."""
    def text(values):
        low, high = values.min() * 1e3, values.max() * 1e3
        return f'{low:g} ms' if np.isclose(low, high) else f'{low:g}–{high:g} ms'
    return f'τ_m = {text(tau_m)}, τ_r = {text(tau_r)}'
