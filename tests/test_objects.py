"""The public Brian2 objects (GLEGroup, GLEProjection, GLETarget) in a user's own script: built by hand they
compute what GLENetwork computes; Brian2's run() and Network(collect()) run them; a user's own groups, drives,
constants and monitors work with them; and what they are given is checked."""
import numpy as np
import pytest
from brian2 import Network, NeuronGroup, StateMonitor, TimedArray, collect, defaultclock, ms, prefs, run, start_scope

from gle_brian import (Activation, Adam, GLEConfigError, GLEGroup, GLENetwork, GLEProjection, GLETarget, Layer,
                       Learning, SGD)
from gle_brian.schedule import SCHEDULE

DT = 0.05 * ms
STEPS = 300


@pytest.fixture(autouse=True)
def numpy_target():
    """A fresh Brian2 scope on the numpy target for every test (as a user's script starts)."""
    start_scope()
    previous = prefs.codegen.target
    prefs.codegen.target = 'numpy'
    yield
    prefs.codegen.target = previous


def layers():
    return [Layer(4, 'tanh', tau_m=[1, 1.5, 2, 1] * ms, tau_r=[0.2, 0.5, 2, 0.3] * ms, gamma=0.1, bias=True),
            Layer(3, 'sigmoid', tau_m=1 * ms, tau_r=0.4 * ms, bias=True),
            Layer(2, 'linear', tau_m=1 * ms, bias=True)]


CASES = {   # batch, connections of the middle projection, loss, feedback
    'dense-mse-symmetric': (1, None, 'mse', 'symmetric'),
    'batch-dense-ce-random': (4, None, 'ce', 'random'),
    'sparse-ce-symmetric': (1, dict(p=0.6), 'ce', 'symmetric'),
    'batch-sparse-mse-random': (4, 'i != j', 'mse', 'random'),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_hand_built_network_equals_glenetwork(case):
    """The same network from the public objects and through GLENetwork: u, r, err, weights, biases agree to 1e-12
    after learning runs (two Brian2 run() calls continue from each other as net.run does)."""
    batch, connect, loss, feedback = CASES[case]
    learning = Learning(Adam(lr=1e-2))
    net = GLENetwork(2, layers(), dt=DT, device='numpy', loss=loss, beta=0.5, batch=batch, feedback=feedback,
                     connect=[None, connect, None], learning=learning, seed=4, biases=[0.1, -0.2, 0.3])
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, STEPS, batch, 2))
    y = rng.normal(size=(2, STEPS, batch, 2)) if loss == 'mse' else np.eye(2)[rng.integers(0, 2, (2, STEPS, batch))]

    source = NeuronGroup(batch * 2, 'r : 1', dt=DT, name='source')        # the user's input group
    values = TimedArray(x.reshape(2 * STEPS, batch * 2), dt=DT)     # noqa: F841 (read by name in the run namespace)
    source.run_regularly('r = values(t, i)', when='start')               # the default slot: before everything
    groups = [GLEGroup(layer.size, layer.activation, layer.tau_m, layer.tau_r, layer.gamma, bias, batch=batch,
                       learning=learning, dt=DT, name=f'hand_{l}')
              for l, (layer, bias) in enumerate(zip(layers(), [0.1, -0.2, 0.3]))]
    projections = [GLEProjection(pre, post, weights=w, connect=c, feedback=feedback, feedback_weights=f,
                                 learning=learning)
                   for pre, post, w, c, f in zip([source] + groups[:-1], groups, net.weights, net.connectivity,
                                                 net.feedback_weights or [None] * 3)]
    target = GLETarget(groups[-1], TimedArray(y.reshape(2 * STEPS, batch * 2), dt=DT), loss=loss, beta=0.5)
    hand = Network(source, *groups, *projections, target)
    for k in range(2):
        net.run(x[k], y[k])
        hand.run(STEPS * DT)
    for l, group in enumerate(groups):
        for name in ('u', 'r', 'err', 'u_breve'):
            np.testing.assert_allclose(getattr(group, name)[:], getattr(net.neurons[l], name)[:], rtol=0, atol=1e-12,
                                       err_msg=f'{name} of layer {l}')
        np.testing.assert_allclose(group.parameters.b[:], net.biases[l], rtol=0, atol=1e-12)
    for k, projection in enumerate(projections):
        np.testing.assert_allclose(projection.W, net.weights[k], rtol=0, atol=1e-12, err_msg=f'W of projection {k}')
    assert target.loss == loss and len(hand.objects) > 5


def test_run_collects_the_objects_and_a_user_drive_reaches_the_soma():
    """Brian2's magic run() collects the objects; I_ext, the user's own drive, is never overwritten: with a
    constant drive the membrane relaxes to it with tau_m, as a leaky integrator does."""
    defaultclock.dt = 0.01 * ms
    group = GLEGroup(2, tau_m=[1, 2] * ms)
    group.I_ext = [0.5, -1.0]
    run(2 * ms)
    run(2 * ms)                                              # several run() calls continue t
    expected = np.array([0.5, -1.0]) * (1 - (1 - 0.01 / np.array([1, 2])) ** 400)
    np.testing.assert_allclose(group.u[:], expected, rtol=1e-12)
    np.testing.assert_allclose(group.I_ext[:], [0.5, -1.0])
    assert float(group.t / ms) == pytest.approx(4)


def test_a_users_own_input_model_and_constants_reach_the_network():
    """A user's input group with its own dynamics drives a GLEGroup through a projection, and a constant of the
    user's script in the target expression is found in the run namespace (as in any Brian2 expression)."""
    defaultclock.dt = 0.01 * ms
    oscillator = NeuronGroup(1, '''dr/dt = omega*s : 1
                                   ds/dt = -omega*r : 1
                                   omega : Hz (constant)''', method='euler')
    oscillator.r, oscillator.omega = 1, 1 / ms
    out = GLEGroup(1, tau_m=1 * ms)                           # LE: u_breve is its basal input
    drive = GLEProjection(oscillator, out, weights=[[2.0]])   # held by a name, so that run() collects it
    amplitude = 3.0                                           # a constant of the user's script
    error = GLETarget(out, 'amplitude*r', beta=0.1)          # (r: the group's own rate)
    monitor = StateMonitor(out, ['u_breve', 'r', 'I_apical'], record=True)
    source = StateMonitor(oscillator, 'r', record=True)
    run(1 * ms)
    np.testing.assert_allclose(monitor.u_breve[0][1:], 2 * source.r[0][:-1], atol=1e-12)   # one step of delay
    np.testing.assert_allclose(monitor.I_apical[0][1:], 0.1 * (amplitude - 1) * monitor.r[0][:-1], atol=1e-12)
    assert drive.W[0, 0] == 2 and error.expression == 'amplitude*r'


def test_activation_constants_come_from_the_run_namespace():
    """A constant of the script in an activation is found where Brian2 finds any expression's: the run namespace.
    The numpy mirror and GLENetwork, which have no such namespace, refuse it with the fix."""
    gain = Activation('gain', phi='k*tanh(x)', phi_prime='k*(1 - phi**2/k**2)', constants=('k',))
    k = 2.0                                                   # noqa: F841 (read by name in the run namespace)
    group = GLEGroup(2, gain, tau_m=1 * ms, dt=DT)
    group.I_ext = [0.5, -1.0]
    run(1 * ms)
    np.testing.assert_allclose(group.r[:], 2.0 * np.tanh(group.u_breve[:]), rtol=1e-12)
    np.testing.assert_allclose(group.r_prime[:], 2.0 * (1 - np.tanh(group.u_breve[:]) ** 2), rtol=1e-12)
    with pytest.raises(GLEConfigError, match=r"constants \['k'\] of a script's run namespace.*GLEGroups"):
        GLENetwork(1, [Layer(2, gain, tau_m=1 * ms)], dt=DT, device='numpy')
    with pytest.raises(GLEConfigError, match='need numbers'):
        gain.numpy_functions()
    with pytest.raises(GLEConfigError, match=r"uses the unknown names \['q'\]"):
        Activation('gain', phi='q*x', phi_prime='q', constants=('k',))


def test_network_of_collect_runs_the_objects():
    """Network(collect()) finds the objects a function holds, with the helpers they contain."""
    source = NeuronGroup(1, 'r : 1', dt=DT)
    source.r = 1
    out = GLEGroup(1, tau_m=1 * ms, dt=DT)                    # LE: u_breve is the basal input of the step
    drive = GLEProjection(source, out, weights=[[0.5]])
    network = Network(collect())
    network.run(10 * DT)
    assert {source, out, drive} <= set(network.objects) and float(out.u_breve[0]) == 0.5


def test_objects_set_their_own_schedule_slots():
    group = GLEGroup(2, tau_m=1 * ms, dt=DT)
    slots = {obj.name: (obj.when, obj.order) for obj in group.contained_objects}
    assert slots[f'{group.name}_dendrites'] == SCHEDULE['dendrites']
    assert slots[f'{group.name}_rate'] == SCHEDULE['rate']
    assert (group.state_updater.when, group.state_updater.order) == SCHEDULE['soma']
    target = GLETarget(group, 0.0)
    assert {(obj.when, obj.order) for obj in target.contained_objects} == {SCHEDULE['output_error']}


def test_learning_switches_between_runs():
    """learn(False) holds every parameter fixed in the next run; learn(True) lets them move again."""
    source = NeuronGroup(1, 'r : 1', dt=DT)
    source.r = 1
    out = GLEGroup(1, tau_m=1 * ms, dt=DT, learning=Learning(SGD(lr=0.1)))
    projection = GLEProjection(source, out, weights=[[0.0]], learning=Learning(SGD(lr=0.1)))
    target = GLETarget(out, 1.0)
    run(1 * ms)
    w, b = projection.W.copy(), out.b[:].copy()
    assert w[0, 0] > 0 and b[0] > 0
    out.learn(False)
    projection.learn(False)
    run(1 * ms)
    assert projection.W[0, 0] == w[0, 0] and out.b[0] == b[0]
    projection.learn(True)
    run(1 * ms)
    assert projection.W[0, 0] > w[0, 0] and target.loss == 'mse'


def test_bad_objects_name_the_parameter_and_the_fix():
    group = GLEGroup(3, tau_m=1 * ms, dt=DT)
    with pytest.raises(GLEConfigError, match=r'tau_r=.* is below dt=.*make tau_r >= dt'):
        GLEGroup(3, tau_m=1 * ms, tau_r=0.01 * ms, dt=DT)
    with pytest.raises(GLEConfigError, match='rate variable r'):
        GLEProjection(NeuronGroup(2, 'v : 1'), group)
    with pytest.raises(GLEConfigError, match=r'weights has shape \(2, 2\), expected \(3, 2\)'):
        GLEProjection(NeuronGroup(2, 'r : 1'), group, weights=np.zeros((2, 2)))
    with pytest.raises(GLEConfigError, match='repeated'):
        GLEProjection(NeuronGroup(2, 'r : 1'), group, connect=([0, 0, 1], [1, 1, 2]))
    with pytest.raises(GLEConfigError, match='repeated'):
        GLEProjection(NeuronGroup(2, 'r : 1'), group, connect=dict(p=1, n=2))
    with pytest.raises(GLEConfigError, match='ends on a GLEGroup'):
        GLEProjection(group, NeuronGroup(2, 'r : 1'))
    with pytest.raises(GLEConfigError, match="loss='l1' is not known"):
        GLETarget(group, 0.0, loss='l1')
    GLETarget(group, 0.0)
    with pytest.raises(GLEConfigError, match='has an output error already'):
        GLETarget(group, 1.0)
    with pytest.raises(GLEConfigError, match='a group of that size'):
        GLETarget(GLEGroup(2, tau_m=1 * ms, dt=DT), group.r)
