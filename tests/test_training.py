"""Training loop: one build per experiment, checkpoints, bit-for-bit resume, state save and restore."""
import glob
import json
import os
import shutil

import numpy as np
import pytest
from brian2 import ms

from gle_brian import GLEConfigError, GLEInputError, GLENetwork, Layer, standalone
from gle_brian.data import TimeSeriesData
from gle_brian.neurons import NEURON_STATE
from gle_brian.optimisers import Adam, Learning
from gle_brian.training import ReduceLROnPlateau, cross_entropy, evaluate, train

STEPS, CLASSES = 20, 3


def toy_data(samples, seed):
    """Class k: a noisy sine of frequency k+1 on channel 0, noise on channel 1."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, samples)
    t = np.arange(STEPS) * 0.1
    x = np.stack([np.sin((y[:, None] + 1) * t), np.zeros((samples, STEPS))], axis=2)
    return TimeSeriesData(x + 0.1 * rng.normal(size=x.shape), y, classes=CLASSES)


def toy_net(device, directory=None, batch=3):
    layers = [Layer(6, 'tanh', tau_m=0.3 * ms, tau_r=0.1 * ms, bias=True), Layer(CLASSES, tau_m=0.2 * ms, bias=True)]
    return GLENetwork(2, layers, dt=0.1 * ms, device=device, loss='ce', seed=3, batch=batch, record=['r'],
                      record_layers=[-1], learning=Learning(Adam(lr=0.05), tau_m=True, tau_m_min=0.1 * ms),
                      directory=directory)


def strip_times(history):
    return [{k: v for k, v in h.items() if 'seconds' not in k} for h in history]


@pytest.mark.parametrize('device', ['numpy', pytest.param('cpp_standalone', marks=pytest.mark.standalone)])
def test_resume_continues_bit_for_bit(device, tmp_path):
    """2 epochs straight == stop after epoch 1, resume from its checkpoint on a new network for 1 more.

    The straight run keeps a copy of its epoch-1 checkpoint (the loop is deterministic, so that is what
    a run stopped after one epoch leaves); each experiment compiles once.
    """
    train_set, test_set = toy_data(7, 0), toy_data(4, 1)       # incomplete chunks (batch 3) in both sets
    path, stopped = tmp_path / 'checkpoint.npz', tmp_path / 'stopped.npz'

    def keep_first(history, test):
        if history[-1]['epoch'] == 1:
            shutil.copy(path, stopped)

    builds = standalone.builds_in_process()
    project = str(tmp_path / 'project')    # the resumed network's build finds the same code compiled there
    net = toy_net(device, project)
    run, calls = net.run, []
    net.run = lambda x, *args, **kwargs: calls.append(len(x)) or run(x, *args, **kwargs)
    straight = train(net, train_set, test_set, epochs=2, seed=4, patience=0, progress=False, checkpoint=str(path),
                     on_epoch=keep_first)
    assert standalone.builds_in_process() - builds == (device == 'cpp_standalone')
    # per epoch: two test runs of a chunk each, and the two training runs, in one call on cpp_standalone
    training = [2 * STEPS] if device == 'cpp_standalone' else [STEPS, STEPS]
    assert calls == [STEPS] * 2 + (training + [STEPS] * 2) * 2
    if device == 'cpp_standalone':         # the same numbers as the runs one by one on numpy
        twin = toy_net('numpy')
        history = train(twin, train_set, test_set, epochs=2, seed=4, patience=0, progress=False)
        for ours, theirs in zip(strip_times(straight), strip_times(history)):
            assert ours.keys() == theirs.keys()
            for key, value in ours.items():
                assert value == pytest.approx(theirs[key], abs=1e-12), key
        # the state too, the weight drives g_w among it (in C++ their products write them: gle_brian.products)
        ours, theirs = net.get_state(), twin.get_state()
        assert any(key.endswith('.g_w') and np.any(value) for key, value in ours.items())
        for key, value in theirs.items():
            np.testing.assert_allclose(ours[key], value, atol=1e-12, err_msg=key)
    assert [h['epoch'] for h in straight] == [0, 1, 2] and straight[0]['train_loss'] is None
    plateau, scales = ReduceLROnPlateau(lr=0.05, patience=0), []
    for h in straight[1:]:
        scales.append(plateau.scale)
        plateau.step(h['test_loss'])
    assert [h['lr_scale'] for h in straight[1:]] == scales
    final = net.get_state()
    compiled = {path: os.path.getmtime(path) for path in glob.glob(os.path.join(project, 'code_objects', '*.o'))}
    resumed_net = toy_net(device, project)
    resumed = train(resumed_net, train_set, test_set, epochs=2, seed=4, patience=0, progress=False,
                    checkpoint=str(stopped), resume=True)
    # the same code generated again: no code object is compiled again (only main.cpp may change)
    assert compiled == {path: os.path.getmtime(path) for path in compiled}
    assert strip_times(resumed) == strip_times(straight)
    state = resumed_net.get_state()
    assert state.keys() == final.keys()
    for key in final:
        np.testing.assert_array_equal(state[key], final[key], err_msg=key)
    with np.load(stopped) as f:
        assert json.loads(str(f['meta']))['epoch'] == 2


def test_state_round_trip_continues_identically(tmp_path):
    """get_state/set_state on a second network: the next runs are identical; a wrong state is refused."""
    data = toy_data(3, 2)
    x, labels = data.batch([0, 1, 2])
    target = np.broadcast_to(np.eye(CLASSES)[labels], (STEPS, 3, CLASSES))
    a, b = toy_net('numpy'), toy_net('numpy')
    a.run(x, target)
    b.set_state(a.get_state())
    for net in (a, b):
        net.run(x, target)
    np.testing.assert_array_equal(a.trace('r', -1), b.trace('r', -1))
    assert all(np.array_equal(a.get_state()[k], v) for k, v in b.get_state().items())
    with pytest.raises(GLEInputError, match='state does not fit'):
        b.set_state({'layer_0.u': np.zeros(18)})


def test_testing_starts_every_chunk_from_the_training_state():
    """As the reference's one test batch of tiled training state: each chunk of 3 starts from the same
    state, without target or learning; then the network holds the first chunk's end state (but for the drives and
    the softmax normaliser, which the test's inference runs skip, gle_brian.gates: they keep their values from
    training, and each is written again before it is read)."""
    train_set, test_set = toy_data(6, 0), toy_data(9, 1)
    net, twin = toy_net('numpy'), toy_net('numpy')
    train(net, train_set, test_set, epochs=1, progress=False)
    state = net.get_state()
    result = evaluate(net, test_set)
    start_rates = state['layer_1.r'].reshape(1, 3, CLASSES)
    np.testing.assert_array_equal(result['outputs'][:1], start_rates)    # the output before the first step
    ends = []
    for chunk in range(3):
        twin.set_state(state)
        x, _ = test_set.batch(range(3 * chunk, 3 * chunk + 3))
        twin.run(x)
        rates = np.concatenate([start_rates, twin.trace('r', -1)[:-1]])
        np.testing.assert_array_equal(rates.sum(axis=0).argmax(axis=1), result['predictions'][3 * chunk:3 * chunk + 3])
        ends.append(twin.get_state())
    assert not np.array_equal(ends[0]['layer_0.u'], ends[1]['layer_0.u'])
    skipped = {'g_w', 'err_sum', 'softmax_sum'}
    assert skipped == {key.split('.')[1] for key in state} & skipped
    for key, value in net.get_state().items():
        np.testing.assert_array_equal(value, (state if key.split('.')[1] in skipped else ends[0])[key], err_msg=key)


def test_online_learning_with_many_samples_per_run_equals_one_run_per_sample():
    """Batch 1, 4 samples per run: the parameters learn exactly what one run per sample learns (the state
    carries either way), in 6 runs instead of 18 (test before training, training, test)."""
    train_set, test_set = toy_data(8, 0), toy_data(5, 1)
    net, twin = toy_net('numpy', batch=1), toy_net('numpy', batch=1)
    run, runs = net.run, []
    net.run = lambda *args, **kwargs: runs.append(run(*args, **kwargs))
    history = train(net, train_set, test_set, epochs=1, seed=4, progress=False, chunks_per_run=4)
    assert len(runs) == 2 + 2 + 2 and 0 <= history[1]['test_accuracy'] <= 1
    # the twin: the same test before training, then one run per sample in train()'s order
    evaluate(twin, test_set, chunks_per_run=4)
    for index in np.random.default_rng(4).permutation(len(train_set)):
        x, labels = train_set.batch([index])
        twin.run(x, np.broadcast_to(np.eye(CLASSES)[labels], (STEPS, 1, CLASSES)))
    for name in ('weights', 'biases', 'tau_m'):
        for learned, expected in zip(getattr(net, name), getattr(twin, name)):
            np.testing.assert_array_equal(learned, expected, err_msg=name)
    assert not np.array_equal(net.weights[0], toy_net('numpy', batch=1).weights[0])
    with pytest.raises(GLEConfigError, match=r'chunks_per_run=0 must be a positive integer'):
        train(toy_net('numpy', batch=1), train_set, test_set, epochs=1, progress=False, chunks_per_run=0)
    with pytest.raises(GLEConfigError, match=r'reset_layers=\[0\] start every chunk from rest.*use chunks_per_run=1'):
        train(toy_net('numpy', batch=1), train_set, test_set, epochs=1, progress=False, chunks_per_run=2,
              reset_layers=[0])
    with pytest.raises(GLEConfigError, match=r'fewer than one run of batch=1 x chunks_per_run=9'):
        train(toy_net('numpy', batch=1), train_set, test_set, epochs=1, progress=False, chunks_per_run=9)


def test_reset_state_zeroes_the_neurons_of_the_given_layers_only():
    net = toy_net('numpy')
    x, labels = toy_data(3, 2).batch([0, 1, 2])
    net.run(x, np.broadcast_to(np.eye(CLASSES)[labels], (STEPS, 3, CLASSES)))
    before = net.get_state()
    net.reset_state([0])
    after = net.get_state()
    for key in before:
        group, name = key.split('.')
        if group == 'layer_0' and name in NEURON_STATE:
            assert not after[key].any() and before[key].any(), key
        else:
            np.testing.assert_array_equal(after[key], before[key], err_msg=key)
    with pytest.raises(GLEConfigError, match='layer indices'):
        net.reset_state([2])


def test_plateau_halves_after_patience_epochs():
    plateau = ReduceLROnPlateau(lr=1e-3, patience=2, factor=0.5)
    reduced = [plateau.step(loss) for loss in [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.94, 0.95]]
    assert reduced == [False, False, False, False, True, False, False, True] and plateau.scale == 0.25


@pytest.mark.parametrize('lr, min_decay, reductions', [(1e-3, 1e-8, 16), (5e-4, 1e-8, 15), (1e-3, 1e-20, 56)])
def test_plateau_stops_at_pytorchs_floor(lr, min_decay, reductions):
    """PyTorch skips a reduction that lowers the rate by eps (1e-8) or less: halving 1e-3 stops at 1e-3 / 2**16 =
    1.5e-8 (halving it again would lower it by 7.6e-9), 5e-4 at 5e-4 / 2**15; with eps 1e-20 (the published GSC
    schedule) 1e-3 / 2**56 = 1.4e-20 is the last."""
    plateau = ReduceLROnPlateau(lr=lr, patience=0, factor=0.5, min_decay=min_decay)
    reduced = [plateau.step(1.0) for _ in range(100)]
    assert reduced == [False] + [True] * reductions + [False] * (99 - reductions)
    assert plateau.scale == 0.5 ** reductions and min_decay < lr * plateau.scale <= 2 * min_decay


def test_cross_entropy_of_uniform_rates_is_log_classes():
    np.testing.assert_allclose(cross_entropy(np.zeros((5, 2, 4)), np.array([0, 3])), np.log(4))


def test_training_needs_recorded_output_rates():
    net = GLENetwork(2, [Layer(CLASSES, tau_m=0.2 * ms)], dt=0.1 * ms, device='numpy', loss='ce', batch=3,
                     learning=Learning(Adam(lr=0.05)))
    with pytest.raises(GLEConfigError, match=r"record=\['r'\]"):
        train(net, toy_data(6, 0), toy_data(3, 1), epochs=1, progress=False)
