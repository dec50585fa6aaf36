"""Plasticity and optimisers: Brian2 code against the numpy implementations and the numpy mirror."""
import numpy as np
import pytest
from brian2 import Network, NeuronGroup, TimedArray, ms

from gle_brian import GLEConfigError, GLENetwork, Layer, ReferenceNetwork, devices, standalone
from gle_brian.optimisers import Adam, Learning, SGD
from gle_brian.reference import VARIABLES
from mirror import assert_equals_mirror

OPTIMISERS = {'sgd': SGD(lr=0.05), 'momentum': SGD(lr=0.02, momentum=0.9), 'adam': Adam(lr=0.01)}


def torch_like_step(name, state, g, lr):
    """Textbook PyTorch updates, written independently of gle_brian.optimisers."""
    if name == 'sgd':
        return lr * g
    if name == 'momentum':
        state['buf'] = g.copy() if 'buf' not in state else 0.9 * state['buf'] + g
        return lr * state['buf']
    state['t'] = state.get('t', 0) + 1
    state['m'] = 0.9 * state.get('m', 0) + 0.1 * g
    state['v'] = 0.999 * state.get('v', 0) + 0.001 * g * g
    m_hat, v_hat = state['m'] / (1 - 0.9 ** state['t']), state['v'] / (1 - 0.999 ** state['t'])
    return lr * m_hat / (np.sqrt(v_hat) + 1e-8)


@pytest.mark.parametrize('name', OPTIMISERS)
def test_numpy_optimisers_follow_pytorch_semantics(name):
    rng = np.random.default_rng(1)
    optimiser = OPTIMISERS[name]
    state, textbook = optimiser.numpy_state(5), {}
    for _ in range(200):
        g = rng.normal(size=5)
        np.testing.assert_allclose(optimiser.numpy_step(state, g), torch_like_step(name, textbook, g, optimiser.lr),
                                   rtol=1e-12, atol=1e-15)


def test_first_adam_step_is_lr_times_sign():
    state = Adam(lr=1e-3).numpy_state(3)
    np.testing.assert_allclose(Adam(lr=1e-3).numpy_step(state, np.array([2.0, -0.5, 0.1])),
                               [1e-3, -1e-3, 1e-3], rtol=1e-6)  # eps = 1e-8 is negligible


def test_optimisers_in_brian_equal_numpy(device, tmp_path):
    """1000 steps of every optimiser on a noisy gradient; learning off for steps 300-499."""
    steps, size, dt = 1000, 4, 0.01 * ms
    rng = np.random.default_rng(2)
    gradient = rng.normal(size=(steps, size))
    gate = np.ones(steps)
    gate[300:500] = 0
    devices.activate(device)
    grad_signal = TimedArray(gradient, dt=dt, name='grad_signal')
    gate_signal = TimedArray(gate, dt=dt, name='gate_signal')
    groups = []
    for name, optimiser in OPTIMISERS.items():
        group = NeuronGroup(size, 'p : 1\n' + optimiser.equations('p'), dt=dt, name=f'opt_{name}')
        group.p = 1.0
        group.lr_p = optimiser.lr
        group.run_regularly('plastic_p = gate_signal(t)', when='start')
        group.run_regularly(optimiser.code('p', 'grad_signal(t, i)'), when='end')
        groups.append(group)
    # the generated code calls the TimedArrays by these names
    Network(*groups).run(steps * dt, namespace={'grad_signal': grad_signal, 'gate_signal': gate_signal})
    if device in devices.STANDALONE_DEVICES:
        project = standalone.StandaloneProject(device, str(tmp_path))
        project.build()
        project.run({})
    for (name, optimiser), group in zip(OPTIMISERS.items(), groups):
        p, state = np.ones(size), optimiser.numpy_state(size)
        for n in range(steps):
            if gate[n]:
                p = p - optimiser.numpy_step(state, gradient[n])
        np.testing.assert_allclose(group.p[:], p, rtol=1e-12, atol=1e-12, err_msg=name)


def run_both(device, layers, learning, runs, feedback='symmetric', seed=0, batch=1):
    """Run a GLENetwork and the numpy mirror through ``runs`` (a list of ``learn`` values, None = no target)."""
    rng = np.random.default_rng(seed)
    sizes = [3] + [layer.size for layer in layers]
    weights = [rng.uniform(-1, 1, (n, m)) for m, n in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(size=layer.size) for layer in layers]
    feedback_weights = [rng.uniform(-1, 1, w.shape) for w in weights] if feedback == 'random' else None
    net = GLENetwork(3, layers, dt=0.01 * ms, device=device, loss='mse', beta=0.1, weights=weights, biases=biases,
                     feedback=feedback, feedback_weights=feedback_weights, learning=learning, record=VARIABLES,
                     batch=batch)
    ref = ReferenceNetwork(3, layers, weights, dt=0.01 * ms, biases=biases, beta=0.1, learning=learning,
                           feedback=feedback_weights, batch=batch)
    steps = 150
    for learn in runs:
        x, y = rng.normal(size=(steps, batch, 3)), rng.normal(size=(steps, batch, sizes[-1]))
        y = None if learn is None else y
        net.run(x, y, learn=bool(learn))
        traces = ref.run(x, y, learn=bool(learn))
        assert_equals_mirror(net, ref, traces, atol=1e-13, tau_m=True)
    return net, weights


def test_plasticity_equals_mirror(mixed_layers):
    """Weights, biases and tau_m learned with Adam, learning switched off and on between runs (numpy; every
    target: test_targets)."""
    learning = Learning(Adam(lr=0.01), lr=[0.01, 0.02, 0.005], tau_m=True, tau_m_min=0.05 * ms)
    net, weights = run_both('numpy', mixed_layers, learning, [True, False, True, None])
    assert all(np.abs(w - w0).max() > 1e-3 for w, w0 in zip(net.weights, weights))


def test_batch_shares_parameters_and_equals_mirror(mixed_layers):
    """Three copies on different inputs share W, b and tau_m (held once); gradients are batch means.

    On numpy; the compiled batch path (Adam on W, b, tau_m) is checked in test_targets.
    """
    learning = Learning(Adam(lr=0.01), lr=[0.01, 0.02, 0.005], tau_m=True, tau_m_min=0.05 * ms)
    net, weights = run_both('numpy', mixed_layers, learning, [True, False, None], batch=3)
    assert net.trace('r', 2).shape == (150, 3, 3)
    assert all(np.abs(w - w0).max() > 1e-3 for w, w0 in zip(net.weights, weights))


def test_plasticity_with_random_feedback_and_momentum(mixed_layers):
    run_both('numpy', mixed_layers, Learning(SGD(lr=0.02, momentum=0.9)), [True, True], feedback='random')
    run_both('numpy', mixed_layers, Learning(SGD(lr=0.02, momentum=0.9)), [True], feedback='random', batch=2)


def test_learning_rate_zero_freezes_a_layer(mixed_layers):
    net, weights = run_both('numpy', mixed_layers, Learning(SGD(lr=0.05)), [True])
    frozen = net.weights[1].copy()
    net.set_learning_rate(0.0, layer=1)
    net.run(np.ones((50, 3)), np.zeros((50, 3)))
    np.testing.assert_array_equal(net.weights[1], frozen)
    assert np.abs(net.weights[0] - weights[0]).max() > 0


def test_sgd_descends_the_loss():
    """A linear LE layer with SGD: the plasticity sign is gradient descent on the MSE."""
    t = np.arange(3000)[:, None] * 0.01                  # in ms, a slowly varying input
    x = np.sin(t * np.array([1.0, 1.7, 2.9]) + np.array([0, 1, 2]))
    target = x @ np.array([[1.0, -2.0, 0.5]]).T
    net = GLENetwork(3, [Layer(1, tau_m=0.1 * ms)], dt=0.01 * ms, device='numpy', loss='mse', beta=1.0,
                     weights=[np.zeros((1, 3))], learning=Learning(SGD(lr=0.01)))
    net.run(x, np.roll(target, 1, axis=0))       # the output lags the input by one step
    np.testing.assert_allclose(net.weights[0], [[1.0, -2.0, 0.5]], atol=1e-2)


@pytest.mark.parametrize('kwargs, message', [
    (dict(learning='adam'), 'learning='),
    (dict(learning=Learning(Adam(), tau_m=True, tau_m_min=0.5 * ms)), 'tau_m_min'),
    (dict(learning=Learning(Adam(), lr=[0.1])), 'lr='),
])
def test_bad_learning_configuration(kwargs, message):
    with pytest.raises(GLEConfigError, match=message):
        GLENetwork(1, [Layer(2, tau_m=0.2 * ms), Layer(1, tau_m=1 * ms)], dt=0.01 * ms, device='numpy', **kwargs)


def test_bad_optimiser_and_learn_without_learning():
    with pytest.raises(GLEConfigError, match='lr'):
        Adam(lr=-1.0)
    with pytest.raises(GLEConfigError, match='beta1'):
        Adam(beta1=1.5)
    with pytest.raises(GLEConfigError, match='optimiser='):
        Learning('sgd')
    net = GLENetwork(1, [Layer(1, tau_m=1 * ms)], dt=0.01 * ms, device='numpy', loss='mse')
    with pytest.raises(GLEConfigError, match='learn=True'):
        net.run(np.zeros(10), np.zeros(10), learn=True)


def test_evaluation_skips_the_drive_and_the_vanished_feedback(device, tmp_path):
    """Learning, evaluation (learning off, no target), learning: the drive is skipped while learning is off and,
    the errors being instantaneous, they are exactly zero from the third step of the evaluation on, so the
    feedback products are skipped from then on; every run equals the mirror, which computes everything."""
    layers = [Layer(4, 'tanh', tau_m=1 * ms, tau_r=0.2 * ms, gamma=0.3, bias=True, prospective_errors=False),
              Layer(3, 'tanh', tau_m=0.5 * ms, tau_r=0.1 * ms, prospective_errors=False),
              Layer(2, tau_m=1 * ms, prospective_errors=False)]
    variables = [name for name in VARIABLES if name != 'v']        # v exists with prospective errors only
    rng = np.random.default_rng(4)
    weights = [rng.uniform(-1, 1, shape) for shape in ((4, 2), (3, 4), (2, 3))]
    kwargs = dict(dt=0.05 * ms, loss='mse', beta=0.5, batch=2, learning=Learning(Adam(lr=0.01)))
    net = GLENetwork(2, layers, weights=weights, device=device, record=variables, directory=str(tmp_path), **kwargs)
    ref = ReferenceNetwork(2, layers, weights, **kwargs)
    x = rng.normal(size=(60, 2, 2))
    for learn, target in ((True, rng.normal(size=(60, 2, 2))), (False, None), (True, rng.normal(size=(60, 2, 2)))):
        net.run(x, target, learn=learn)
        traces = ref.run(x, target, learn=learn)
        assert_equals_mirror(net, ref, traces, atol=1e-12, variables=variables)
        errors = np.concatenate([np.abs(e).reshape(60, -1) for e in traces['err']], axis=1).max(axis=1)
        assert (errors[2:] == 0).all() if target is None else (errors[1:] > 1e-3).all()   # none at the very start


def test_inference_runs_with_the_errors_at_rest(device, tmp_path):
    """inference=True: the errors are zero from the start (the feedback products skipped), the rates those of the
    mirror's run with learning off (gamma = 0: the somas do not feel the errors); a learning run afterwards equals
    the mirror started from the same state. Refused with a target, with learning, and where gamma != 0."""
    layers = [Layer(4, 'tanh', tau_m=1 * ms, tau_r=0.2 * ms, bias=True), Layer(3, 'tanh', tau_m=0.5 * ms),
              Layer(2, tau_m=1 * ms, tau_r=0.3 * ms)]
    rng = np.random.default_rng(6)
    weights = [rng.uniform(-1, 1, shape) for shape in ((4, 2), (3, 4), (2, 3))]
    kwargs = dict(dt=0.05 * ms, loss='mse', beta=0.5, batch=2, learning=Learning(Adam(lr=0.01)))
    net = GLENetwork(2, layers, weights=weights, device=device, record=VARIABLES, directory=str(tmp_path), **kwargs)
    ref = ReferenceNetwork(2, layers, weights, **kwargs)
    x, target = rng.normal(size=(60, 2, 2)), rng.normal(size=(60, 2, 2))
    net.run(x, target)
    ref.run(x, target)
    drives = net.get_state()
    net.run(x, learn=False, inference=True)
    traces = ref.run(x, learn=False)
    for key, value in net.get_state().items():          # the drives were not computed (gle_brian.gates)
        if key.split('.')[1] in ('g_w', 'err_sum'):
            np.testing.assert_array_equal(value, drives[key], err_msg=key)
    if device == 'cpp_standalone':     # one binary: each skipped code object is called through its test
        main = (tmp_path / 'main.cpp').read_text()
        # the output error, the feedback of projections 1 and 2 and the apical sums of layers 0 and 1
        assert main.count('[](){ if (!(brian::_array_input_inference[0] != 0)) _run_') == 5
        assert main.count('[](){ if ((brian::_array_projection_1_weights_plastic_w[0] != 0)) _run_') == 2
    for l in range(3):
        np.testing.assert_allclose(net.trace('r', l), traces['r'][l], rtol=0, atol=1e-12)
        assert not net.trace('err', l).any() and not net.trace('I_apical', l).any()
        assert np.abs(traces['err'][l][-1]).max() > 1e-6        # the mirror's errors had not decayed yet
        for name in ('v', 'err', 'I_apical'):
            ref.state[name][l] = np.zeros_like(ref.state[name][l])
    traces = ref.run(x, target)
    net.run(x, target)
    assert_equals_mirror(net, ref, traces, atol=1e-12)
    for kwargs, match in ((dict(target=target), 'without a target'), (dict(learn=True), 'learning off')):
        with pytest.raises(GLEConfigError, match=match):
            net.run(x, inference=True, **kwargs)
    nudged = GLENetwork(2, [Layer(2, tau_m=1 * ms, gamma=0.1)], dt=0.05 * ms, device='numpy', loss='mse')
    with pytest.raises(GLEConfigError, match=r'layer 0 has gamma != 0'):
        nudged.run(x[:, 0], inference=True)


def test_runs_skip_the_learning_and_error_path_they_do_not_need():
    """Learning off: the drives and optimiser steps do not run (the drives keep the training run's values, which a
    run computing them would set to zero); an inference run skips the softmax, the output error and the feedback
    too (the softmax normaliser keeps its values); a training run afterwards computes them all again. The rates
    of such runs equal the mirror's (the tests above; the compiled binary's calls are checked there)."""
    layers = [Layer(4, 'tanh', tau_m=1 * ms, tau_r=0.2 * ms, bias=True), Layer(3, tau_m=1 * ms, bias=True)]
    rng = np.random.default_rng(7)
    net = GLENetwork(2, layers, dt=0.05 * ms, loss='ce', batch=2, learning=Learning(Adam(lr=0.01)), seed=3,
                     device='numpy')
    x, target = rng.normal(size=(40, 2, 2)), np.tile(np.eye(3)[[0, 2]], (40, 1, 1))
    net.run(x, target)
    states = [net.get_state()]
    for kwargs in (dict(learn=False), dict(learn=False, inference=True), dict(target=target)):
        net.run(x, **kwargs)
        states.append(net.get_state())
    drives = [key for key in states[0] if key.split('.')[1] in ('g_w', 'err_sum')]
    assert len(drives) == 4 and all(np.abs(states[0][key]).max() > 0 for key in drives)
    softmax = 'layer_1.softmax_sum'
    for key in drives:
        np.testing.assert_array_equal(states[1][key], states[0][key])   # learning off
        np.testing.assert_array_equal(states[2][key], states[0][key])   # inference
        assert not np.array_equal(states[3][key], states[0][key])       # learning again
    assert not np.array_equal(states[1][softmax], states[0][softmax])   # the errors still decaying
    np.testing.assert_array_equal(states[2][softmax], states[1][softmax])
    assert not np.array_equal(states[3][softmax], states[2][softmax])
    for key in ('projection_0_weights.w', 'layer_0_parameters.b'):
        np.testing.assert_array_equal(states[2][key], states[0][key])
        assert not np.array_equal(states[3][key], states[0][key])
