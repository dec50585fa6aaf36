"""Recording chosen variables, neurons and layers; sine protocols; spike read-out; NWB round trip."""
import numpy as np
import pytest
from brian2 import Equations, Hz, ms, second

from gle_brian import GLEConfigError, GLEInputError, GLENetwork, Layer, neurons
from gle_brian.io import to_nwb
from gle_brian.recording import frequency_response, poisson_spikes, record, transfer_function


def _run_twice(net, steps, seed=0):
    """Two runs with fresh inputs and targets; returns them for the reference."""
    rng = np.random.default_rng(seed)
    runs = [(rng.normal(size=(steps, net.n_in)), rng.normal(size=(steps, net.sizes[-1]))) for _ in range(2)]
    for x, y in runs:
        net.run(x, target=y)
    return runs


def test_every_stored_neuron_variable_is_described():
    """The descriptions (and the lists of names derived from them) come from the comments of the equations."""
    equations = Equations(neurons.neuron_equations() + neurons.TAU_M_DRIVE)
    assert set(neurons.DESCRIPTIONS) == equations.diff_eq_names | equations.parameter_names


def test_record_errors():
    net = GLENetwork(1, [Layer(2, tau_m=1 * ms, prospective_errors=False)], dt=0.01 * ms, device='numpy')
    with pytest.raises(GLEConfigError, match='variables'):
        record(net, ['spikes'])
    with pytest.raises(GLEConfigError, match='layer=3'):
        record(net, ['u'], layers=3)
    with pytest.raises(GLEConfigError, match='multiple of the network step'):
        record(net, ['u'], dt=0.015 * ms)
    with pytest.raises(GLEConfigError, match='prospective_errors'):
        record(net, ['v'])
    with pytest.raises(GLEConfigError, match='neurons'):
        record(net, ['u'], neurons=[5])
    rec = record(net, ['u'])
    net.run(np.zeros(10))
    with pytest.raises(GLEConfigError, match="'r' of layer 0 was not recorded"):
        rec['r', 0]


@pytest.mark.parametrize('tau_m, tau_r, omega', [(1, 0.1, 1), (1, 1, 1), (2, 0.1, 0.5), (1, 0.1, 2 * np.pi)])
def test_frequency_response_is_the_discrete_transfer_function(tau_m, tau_r, omega):
    """Checks C1/C2 (docs/model.rst, 'Analytic checks'): the measured gain is the discrete H(z) (forward) and
    G(z) = 1/H (error)."""
    f = omega / (2 * np.pi) * 1000 * Hz          # 1 a.u. = 1 ms
    for path in ('forward', 'error'):
        measured = frequency_response(tau_m * ms, tau_r * ms, f, dt=0.01 * ms, path=path)
        expected = transfer_function(f, tau_m * ms, tau_r * ms, path=path, dt=0.01 * ms)
        np.testing.assert_allclose(measured, expected, rtol=1e-8)
    h = transfer_function(1000 / (2 * np.pi) * Hz, 1 * ms, 0.1 * ms)
    assert abs(abs(h) - 0.7106) < 1e-4 and abs(np.angle(h) + 0.6857) < 1e-4


def test_poisson_spikes():
    rates = np.column_stack([np.full(2000, 0.5), np.full(2000, -1.0)])
    t, i = poisson_spikes(rates, 0.1 * ms, rate_scale=1000 * Hz, trials=10, seed=4)
    t2, i2 = poisson_spikes(rates, 0.1 * ms, rate_scale=1000 * Hz, trials=10, seed=4)
    np.testing.assert_array_equal(i, i2)
    assert np.all(np.diff(t) >= 0) and t.dim == second.dim
    counts = np.bincount(i, minlength=20)
    assert counts[1::2].sum() == 0                          # negative rates do not fire
    assert abs(counts[0::2].mean() - 100) < 15              # 0.5 * 1000 Hz * 0.2 s
    with pytest.raises(GLEConfigError, match='rate_scale'):
        poisson_spikes(rates, 0.1 * ms, rate_scale=100)


def test_nwb_round_trip(tmp_path):
    pynwb = pytest.importorskip('pynwb')
    layers = [Layer(3, 'tanh', tau_m=[1, 2, 3] * ms, tau_r=0.1 * ms), Layer(1, tau_m=1 * ms)]
    net = GLENetwork(2, layers, dt=0.01 * ms, device='numpy', loss='mse', beta=0.5, seed=1)
    rec = record(net, ['u', 'r', 'w'], layers=[0, 1], neurons=[0], dt=0.05 * ms)
    _run_twice(net, 40)
    path = to_nwb(rec, tmp_path / 'run.nwb', session_description='round trip')
    with pynwb.NWBHDF5IO(str(path), 'r') as io:
        nwb = io.read()
        assert sorted(nwb.acquisition) == ['r_layer0', 'r_layer1', 'u_layer0', 'u_layer1', 'w_layer0', 'w_layer1']
        for (variable, layer), values in rec.items():
            series = nwb.acquisition[f'{variable}_layer{layer}']
            np.testing.assert_array_equal(series.data[:], values)
            assert series.rate == 20000.0 and series.unit == 'a.u.'
            assert series.starting_time == pytest.approx(0.4e-3) and series.description
        neurons = nwb.processing['gle_model']['neurons'].to_dataframe()
        np.testing.assert_allclose(neurons.tau_m, [1e-3, 2e-3, 3e-3, 1e-3])
        assert list(neurons.activation) == ['tanh'] * 3 + ['linear']
        network = nwb.processing['gle_model']['network'].to_dataframe()
        assert network.beta[0] == 0.5 and network.dt[0] == pytest.approx(1e-5) and network.loss[0] == 'mse'


def test_a_failed_nwb_export_keeps_the_existing_file(tmp_path, monkeypatch):
    """The file is written beside the old one and moved into place: a write that fails leaves the old file whole
    (it was opened in place with mode 'w' and destroyed); a missing folder is made; a folder as path is refused."""
    pynwb = pytest.importorskip('pynwb')
    net = GLENetwork(2, [Layer(1, tau_m=1 * ms)], dt=0.01 * ms, device='numpy', seed=1)
    rec = record(net, ['r'], dt=0.01 * ms)
    net.run(np.ones((20, 2)))
    path = to_nwb(rec, tmp_path / 'new' / 'run.nwb')
    before = path.read_bytes()

    def failing_write(self, *args, **kwargs):
        raise RuntimeError('disk full')
    monkeypatch.setattr(pynwb.NWBHDF5IO, 'write', failing_write)
    with pytest.raises(RuntimeError, match='disk full'):
        to_nwb(rec, path)
    assert path.read_bytes() == before and [p.name for p in path.parent.iterdir()] == ['run.nwb']
    monkeypatch.undo()
    with pytest.raises(GLEInputError, match='cannot be written there'):
        to_nwb(rec, tmp_path)


def test_record_microcircuit_error_neurons():
    """In the microcircuit form, v is recorded from the error neurons; the rest from the representation neurons."""
    from gle_brian.microcircuit import MicrocircuitNetwork
    layers = [Layer(2, 'tanh', tau_m=1 * ms, tau_r=0.1 * ms), Layer(1, tau_m=1 * ms)]
    nets = [cls(1, layers, dt=0.01 * ms, device='numpy', loss='mse', beta=0.5, seed=2, record=['v', 'err'])
            for cls in (GLENetwork, MicrocircuitNetwork)]
    recs = [record(net, ['v', 'err', 'w']) for net in nets]
    for net in nets:
        _run_twice(net, 30)
    for variable, layer in [('v', 0), ('err', 0), ('v', 1), ('w', 1)]:
        np.testing.assert_array_equal(recs[0][variable, layer], recs[1][variable, layer])
    np.testing.assert_array_equal(recs[1]['v', 0], nets[1].trace('v', 0))


def test_record_weights_during_learning():
    from gle_brian.optimisers import SGD, Learning
    layers = [Layer(3, 'tanh', tau_m=1 * ms, tau_r=0.1 * ms), Layer(2, tau_m=1 * ms)]
    net = GLENetwork(2, layers, dt=0.01 * ms, device='numpy', loss='mse', beta=1.0, seed=4,
                     learning=Learning(SGD(lr=0.5)), record=['w'])
    rec = record(net, ['w'], neurons={1: [1]})
    _run_twice(net, 50)
    weights = rec['w', 1]                                   # (samples, 1 neuron, 3 inputs)
    np.testing.assert_array_equal(weights[:, 0], net.trace('w', 1).reshape(-1, 2, 3)[:, 1])
    np.testing.assert_array_equal(weights[-1, 0], net.weights[1][1])
    assert np.abs(weights[-1] - weights[0]).max() > 1e-6    # the weights did learn
