"""Figures: each plotting function draws from a short recording and saves a PNG."""
import numpy as np
import pandas
import pytest
from brian2 import Hz, ms
from matplotlib.figure import Figure

from gle_brian import GLENetwork, Layer
from gle_brian.microcircuit import MicrocircuitNetwork
from gle_brian.plotting import plot_band, plot_bode, plot_microcircuit, plot_raster, plot_sine_response, plot_traces
from gle_brian.recording import poisson_spikes, record, transfer_function

LAYERS = [Layer(3, 'sigmoid', tau_m=2 * ms, tau_r=0.5 * ms), Layer(1, tau_m=1 * ms)]


@pytest.fixture(scope='module')
def rec():
    net = GLENetwork(1, LAYERS, dt=0.05 * ms, device='numpy', loss='mse', beta=0.5, seed=0,
                     weights=[np.ones((3, 1)), np.ones((1, 3)) / 3])
    rec = record(net, ['I_basal', 'u', 'u_breve', 'r', 'err'], dt=0.1 * ms)
    t = np.arange(600) * 0.05
    net.run(np.sin(2 * np.pi * t / 10), target=np.cos(2 * np.pi * t / 10))
    return rec


def _saved(fig, tmp_path, name):
    assert isinstance(fig, Figure)
    fig.savefig(tmp_path / name)
    return (tmp_path / name).stat().st_size > 1000


def test_plot_traces(rec, tmp_path):
    fig = plot_traces(rec, ['u', 'u_breve', 'r', 'err'], neurons=[0, 1], time_bar=5 * ms)
    assert len(fig.axes) == 4 * 2                 # variables x layers
    assert _saved(fig, tmp_path, 'traces.png')
    assert any(text.get_text() == '5 ms' for text in fig.axes[-1].texts)      # the time scale bar


def test_plot_sine_response(rec, tmp_path):
    fig = plot_sine_response(rec, layer=0, neuron=0, periods=2)
    lead = [text.get_text() for text in fig.axes[0].texts if 'leads' in text.get_text()]
    assert lead and _saved(fig, tmp_path, 'sine.png')
    with pytest.raises(ValueError, match='periods'):
        plot_sine_response(rec, periods=10)


def test_plot_bode(tmp_path):
    f = np.array([10, 100, 1000]) * Hz
    measured = (f, transfer_function(f, 1 * ms, 0.1 * ms), None)
    fig = plot_bode(1 * ms, 0.1 * ms, measured=measured, dt=0.01 * ms)
    gain_ax, phase_ax = fig.axes
    assert gain_ax.get_yscale() == 'log' and phase_ax.get_xscale() == 'log'
    assert _saved(fig, tmp_path, 'bode.png')


def test_plot_raster(rec, tmp_path):
    t, i = poisson_spikes(rec['r', 0], rec.dt, rate_scale=1000 * Hz, trials=5, seed=0)
    fig = plot_raster(t, i, trains=15, duration=30 * ms, neurons=3, expected=(rec.t, rec['r', 0] * 1000 * Hz))
    assert len(fig.axes) == 2 and _saved(fig, tmp_path, 'raster.png')


def test_plot_microcircuit(tmp_path):
    net = MicrocircuitNetwork(1, LAYERS, dt=0.05 * ms, device='numpy', loss='mse')
    assert _saved(plot_microcircuit(net), tmp_path, 'microcircuit.png')


def test_band_of_a_sweep_names_only_the_parameters_that_vary():
    table = pandas.DataFrame({'seed': [1, 1, 2, 2], 'epochs': [3] * 4, 'epoch': [0, 1, 0, 1],
                              'test_accuracy': [0.1, 0.5, 0.1, 0.7]})
    table.attrs['parameters'] = ['seed', 'epochs']
    labels = [line.get_label() for line in plot_band(table, 'test_accuracy').axes[0].get_lines()]
    assert 'this package (2 seeds)' in labels
    band = plot_band(table[table['seed'] == 1], 'test_accuracy').axes[0]
    assert 'this package (1 seed)' in [line.get_label() for line in band.get_lines()]
    means = [line for line in plot_band(table, 'test_accuracy').axes[0].get_lines()
             if line.get_label().startswith('this package')][0]
    assert list(means.get_ydata()) == [0.1, 0.6]
