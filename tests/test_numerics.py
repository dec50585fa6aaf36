"""No silent NaN or inf: runs that diverge raise, bad numbers are refused where they are given, and the
cross-entropy error is stable for large rates."""
import json

import numpy as np
import pytest
from brian2 import ms

from gle_brian import (SGD, Activation, Adam, GLEConfigError, GLEInputError, GLENetwork, GLENumericalError, Layer,
                       Learning, ReferenceNetwork)
from gle_brian.data import TimeSeriesData
from gle_brian.neurons import NONFINITE_STEP
from gle_brian.recording import record
from gle_brian.training import evaluate, train
import conftest

DT = 0.1 * ms


def diverging_net(device='numpy', lr=10.0, **kwargs):
    """A net whose weights blow up under SGD with a large learning rate (after ~200 steps at lr=10)."""
    layers = [Layer(3, 'tanh', tau_m=1 * ms, tau_r=0.1 * ms), Layer(1, tau_m=1 * ms)]
    return GLENetwork(2, layers, dt=DT, device=device, loss='mse', seed=0, learning=Learning(SGD(lr=lr)),
                      record=['u', 'r'], **kwargs)


# --- a run that becomes NaN or inf raises --------------------------------------------------------

def test_diverging_run_names_layer_first_step_and_variables():
    """The message and the attributes (on numpy; the same step on every target: test_targets)."""
    steps = 300
    net = diverging_net()
    x, y = np.ones((steps, 2)), np.ones((steps, 1))
    with pytest.raises(GLENumericalError, match=r'layer 0 became NaN or inf at step \d+ of this run \(t = .* after '
                                                r'its start\).*not finite now: .*\bw\b.*restore a saved one.*lower '
                                                r'the learning rate') as caught:
        net.run(x, y)
    error = caught.value
    finite = [np.isfinite(net.trace('u', l)).all(axis=1) & np.isfinite(net.trace('r', l)).all(axis=1)
              for l in range(2)]
    assert error.layer == 0 and error.step == np.argmin(finite[0]) and np.argmin(finite[1]) > error.step
    assert error.time == error.step * DT and {'u', 'r', 'w'} <= set(error.variables)
    assert isinstance(error, FloatingPointError)
    with pytest.raises(GLENumericalError, match='at step 0 of this run'):      # the state stays bad: no silent run
        net.run(x, y, learn=False)


def test_first_bad_step_counts_from_the_run_start():
    """The step is counted from the start of the run that went bad; a restored state runs on."""
    net = diverging_net()
    x, y = np.ones((100, 2)), np.ones((100, 1))
    net.run(x, y)
    saved = net.get_state()
    assert not any(key.endswith(NONFINITE_STEP) for key in saved)     # the watch is not part of the state
    with pytest.raises(GLENumericalError) as caught:
        net.run(np.ones((300, 2)), np.ones((300, 1)))
    fresh = diverging_net()
    with pytest.raises(GLENumericalError) as straight:
        fresh.run(np.ones((400, 2)), np.ones((400, 1)))
    assert caught.value.step == straight.value.step - 100
    net.set_state(saved)
    net.set_learning_rate(0.0)
    net.run(x, y)                                                          # finite again: no error
    assert np.all(np.isfinite(net.trace('r', 1)))


def test_huge_input_with_learning_raises():
    net = diverging_net(lr=1.0)
    with pytest.raises(GLENumericalError, match=r'layer \d became NaN or inf'):
        net.run(1e3 * np.ones((1000, 2)), np.ones((1000, 1)))


# --- training stops before a NaN checkpoint -------------------------------------------------------

def toy_data(samples, seed, steps=20, classes=3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, samples)
    t = np.arange(steps) * 0.1
    x = np.stack([np.sin((y[:, None] + 1) * t), np.zeros((samples, steps))], axis=2)
    return TimeSeriesData(x + 0.1 * rng.normal(size=x.shape), y, classes=classes)


def toy_classifier(lr):
    """A classifier with the MSE loss: with a large learning rate its output error grows with its rates."""
    layers = [Layer(6, 'tanh', tau_m=0.3 * ms, tau_r=0.1 * ms, bias=True), Layer(3, tau_m=0.2 * ms, bias=True)]
    return GLENetwork(2, layers, dt=DT, device='numpy', loss='mse', seed=3, batch=3, record=['r'],
                      record_layers=[-1], learning=Learning(SGD(lr=lr)))


def test_training_stops_before_a_nan_checkpoint(tmp_path):
    """Epoch 0 (testing only) writes a checkpoint; training at lr=100 diverges: it raises, the checkpoint stays."""
    train_set, test_set = toy_data(30, 0), toy_data(6, 1)
    path = tmp_path / 'checkpoint.npz'
    epochs_seen = []
    net = toy_classifier(lr=100)
    with pytest.raises(GLENumericalError, match='became NaN or inf'):
        train(net, train_set, test_set, epochs=3, checkpoint=str(path), progress=False,
              on_epoch=lambda history, test: epochs_seen.append(history[-1]['epoch']))
    assert epochs_seen == [0]
    with np.load(path) as f:
        assert json.loads(str(f['meta']))['epoch'] == 0
        assert all(np.all(np.isfinite(f[key])) for key in f.files if key.startswith('state/'))
    assert sorted(p.name for p in tmp_path.iterdir()) == ['checkpoint.npz']


def test_evaluate_refuses_nan_outputs():
    net = toy_classifier(lr=100)
    x, labels = toy_data(3, 0).batch(np.arange(3))
    with pytest.raises(GLENumericalError):
        for _ in range(20):
            net.run(x, np.broadcast_to(np.eye(3)[labels], (len(x), 3, 3)))
    with pytest.raises(GLENumericalError):     # no accuracy from NaN outputs
        evaluate(net, toy_data(6, 1))


# --- bad numbers are refused where they are given -----------------------------------------------

@pytest.mark.parametrize('make, match', [
    (lambda: diverging_net(beta=np.nan), r'beta=nan must be a finite number >= 0'),
    (lambda: diverging_net(beta=-0.1), r'beta=-0.1 must be a finite number >= 0'),
    (lambda: diverging_net(lr=np.inf), r'lr=inf must be a finite number >= 0'),
    (lambda: SGD(lr='1e-3'), r"lr='1e-3' must be a finite number >= 0, e.g. lr=1e-3"),
    (lambda: SGD(lr=0.1, momentum=np.nan), r'momentum=nan must be a finite number in \[0, 1\)'),
    (lambda: Adam(lr=-1e-3), r'lr=-0.001 must be a finite number'),
    (lambda: Adam(beta2=1.0), r'beta2=1.0 must be a finite number in \[0, 1\)'),
    (lambda: Learning(Adam(), lr=[1e-3, np.nan]), r'lr\[1\]=nan must be a finite number'),
    (lambda: Learning(Adam(), lr=['1e-3']), r"lr\[0\]='1e-3' must be a finite number"),
    (lambda: Learning(Adam(), time_unit=np.inf * ms), r'time_unit=.* must be a positive, finite time'),
])
def test_bad_rates_refused_where_given(make, match):
    with pytest.raises(GLEConfigError, match=match):
        make()


@pytest.mark.parametrize('lr, match', [
    (np.nan, r'lr=nan must be a finite number >= 0'),
    ('1e-3', r"lr='1e-3' must be a finite number >= 0, e.g. lr=1e-3"),
    (-1.0, r'lr=-1.0 must be'),
])
def test_set_learning_rate_refuses_bad_rates(lr, match):
    net = diverging_net()
    with pytest.raises(GLEConfigError, match=match):
        net.set_learning_rate(lr)
    assert net.learning_rates == [10.0, 10.0]


def test_set_learning_rate_needs_learning_and_a_layer():
    with pytest.raises(GLEConfigError, match='set_learning_rate: the network has no plasticity'):
        GLENetwork(1, [Layer(1, tau_m=1 * ms)], dt=DT, device='numpy').set_learning_rate(1e-3)
    net = diverging_net()
    with pytest.raises(GLEConfigError, match='layer=2 is not a layer of this 2-layer network'):
        net.set_learning_rate(1e-3, layer=2)
    net.set_learning_rate(1e-3, layer=-1)            # -1: the output layer, the same as layer 1
    assert net.learning_rates == [10.0, 1e-3] and float(net.weight_groups[1].lr_w[:]) == 1e-3


# --- cross-entropy with large rates -------------------------------------------------------------

def stable_softmax(r):
    e = np.exp(r - r.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_cross_entropy_is_finite_for_large_rates_and_equals_mirror():
    """Output rates near and above 1000 (differences up to 1800): finite errors, equal to the mirror."""
    layers = [Layer(5, tau_m=1 * ms, bias=True)]
    biases = [np.array([1000.0, 999.0, 1700.0, -100.0, 995.0])]
    kwargs = dict(dt=0.5 * ms, beta=2.0, biases=biases, batch=2)
    weights = [np.array([[1.0], [-1.0], [0.5], [0.0], [2.0]])]
    net = GLENetwork(1, layers, weights=weights, device='numpy', loss='ce', record=['I_apical', 'r'], **kwargs)
    ref = ReferenceNetwork(1, layers, weights, loss='ce', **kwargs)
    x = np.random.default_rng(0).normal(size=(30, 2, 1))
    y = np.eye(5)[np.tile([0, 3], (30, 1))]
    net.run(x, y)
    traces = ref.run(x, y)
    apical, rates = net.trace('I_apical', 0), net.trace('r', 0)
    assert np.all(np.isfinite(apical)) and rates.max() > 1700
    np.testing.assert_allclose(apical, traces['I_apical'][0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(net.trace('r', 0), traces['r'][0], rtol=0, atol=1e-9)
    # the error at step n uses the rates stored after step n-1
    expected = 2.0 * (y[1:] - stable_softmax(rates[:-1]))
    np.testing.assert_allclose(apical[1:], expected, rtol=1e-12, atol=1e-300)


def test_mirror_softmax_does_not_overflow():
    ref = ReferenceNetwork(1, [Layer(3, tau_m=1 * ms, bias=True)], [np.zeros((3, 1))], dt=0.5 * ms, loss='ce',
                           biases=[[2000.0, 0.0, -3000.0]])
    with np.errstate(over='raise', invalid='raise', divide='raise'):
        apical = ref.run(np.zeros((10, 1)), np.eye(3)[np.ones(10, dtype=int)])['I_apical'][0]
    np.testing.assert_allclose(apical[-1, 0], [-1.0, 1.0, 0.0], atol=1e-300)


# --- clear errors for inputs Brian2 would misread ----------------------------------------------------

def small_net(**kwargs):
    return conftest.small_net(dt=DT, **kwargs)


@pytest.mark.parametrize('kwargs, match', [
    (dict(record='err'), r"record='err' is one string; give a list of names, e.g. record=\['err'\]"),
    (dict(record=['r'], record_dt=0.5 * DT), r'record_dt=.* must be a whole multiple of the network step dt'),
    (dict(record=['r'], record_dt=1.5 * DT), r'record_dt=.* must be a whole multiple .* e.g. record_dt=200. us'),
    (dict(record=['r'], record_layers=-1),
     r'record_layers=-1 must be a list of layer indices, e.g. record_layers=\[-1\]'),
    (dict(record=['r'], record_layers=[0, 2]), r'record_layers\[1\]=2 is not a layer of this 2-layer network'),
    (dict(biases=[np.ones(2), None]), r'biases\[0\] has 2 values for a layer of size 3; give one value or 3'),
    (dict(biases=[np.ones(3) * 1j, None]), r'biases\[0\] is complex'),
    (dict(weights=[np.ones((3, 2)) + 0j, np.ones((1, 3))]), r'weights\[0\] is complex'),
    (dict(layers=Layer(3, tau_m=1 * ms)), r'layers=Layer\(.*\) must be a non-empty list of Layer objects'),
    (dict(layers=[Layer(3, tau_m=1 * ms, gamma='x')]), r"gamma='x' must be a finite number, e.g. gamma=0.1"),
    (dict(layers=[Layer(3, tau_m=1 * ms, gamma=np.nan)]), r'gamma=nan must be a finite number'),
])
def test_bad_configuration(kwargs, match):
    with pytest.raises(GLEConfigError, match=match):
        small_net(**kwargs)


@pytest.mark.parametrize('x, target, match', [
    (np.ones((10, 2)) * (1 + 1j), None, r'x is complex; .* pass x.real or abs\(x\) explicitly'),
    (np.ones((10, 2)), np.ones((10, 1)) * 1j, r'target is complex'),
    (np.full((10, 2), 'a'), None, r'x has values of type <U1; give numbers'),
])
def test_complex_or_non_numeric_signals(x, target, match):
    with pytest.raises(GLEInputError, match=match):
        small_net().run(x, target)


def test_record_dt_multiple_of_dt_is_accepted():
    net = small_net(record=['r'], record_dt=3 * DT)
    net.run(np.zeros((30, 2)))
    assert net.trace('r', 0).shape == (10, 3)


@pytest.mark.parametrize('phi, match', [
    ('tanh(x', r"Activation\('bad', phi='tanh\(x'\): phi does not parse"),
    ('x if x > 0 else 0', r"phi does not parse .*IfExp"),
    ('swish(x)', r"phi uses the unknown names \['swish'\]"),
])
def test_activation_is_parsed_when_made(phi, match):
    with pytest.raises(GLEConfigError, match=match):
        Activation('bad', phi=phi, phi_prime='1.0')


def test_derivative_may_use_the_rate():
    """phi_prime in x and phi: the rate is not computed twice, and the numpy form gives the same values."""
    logistic = Activation('logistic', phi='1/(1 + exp(-x))', phi_prime='phi*(1 - phi)')
    assert logistic.expressions('u_breve', rate='r')[1] == 'r*(1 - r)'
    assert logistic.expressions('u')[1] == '(1/(1 + exp(-u)))*(1 - (1/(1 + exp(-u))))'
    x = np.linspace(-4, 4, 9)
    np.testing.assert_allclose(logistic.numpy_functions()[1](x), np.exp(-x) / (1 + np.exp(-x)) ** 2, rtol=1e-14)
    with pytest.raises(GLEConfigError, match=r"phi_prime uses the unknown names \['rate'\]; use x and phi"):
        Activation('bad', phi='x', phi_prime='rate')


@pytest.mark.parametrize('layer', [2, 5, -3, 1.0])
def test_trace_layer_out_of_range(layer):
    net = small_net(record=['r'])
    net.run(np.zeros((5, 2)))
    with pytest.raises(GLEConfigError, match=rf'layer={layer!r} is not a layer of this 2-layer network'):
        net.trace('r', layer)
    with pytest.raises(GLEConfigError, match='is not a layer'):
        net.rates(layer)


def test_recording_checks_its_interval_and_takes_one_name():
    net = small_net()
    for dt in (0.5 * DT, 1.5 * DT):
        with pytest.raises(GLEConfigError, match=r'dt=.* must be a whole multiple of the network step'):
            record(net, ['r'], dt=dt)
    rec = record(net, 'err', layers=-1)                  # one name: that variable, not its letters
    net.run(np.zeros((5, 2)))
    assert rec.variables == ('err',) and rec['err', -1].shape == (5, 1)
