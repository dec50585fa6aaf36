"""Checkpoints: unreadable files, later formats, incomplete training states and networks built otherwise are refused
clearly, before anything changes; states load all or nothing; crafted files run no code (a fuzz test); atomic
writes clean up what a killed write left."""
import json
import os
import time

import numpy as np
import pytest
from brian2 import ms

from gle_brian import Activation, GLEConfigError, GLEGraph, GLEInputError, GLENetwork, Layer, Projection, training
from gle_brian.checkpoints import FORMAT
from gle_brian.microcircuit import MicrocircuitNetwork
from gle_brian.optimisers import SGD, Adam, Learning
from gle_brian.results import STALE_SECONDS, save_npz, write_json
from gle_brian.training import load_checkpoint, save_checkpoint, train

STEPS = 20


def small_net(form=GLENetwork, layers=None, **kwargs):
    kwargs = dict(dict(dt=0.1 * ms, device='numpy', loss='mse', beta=0.2, seed=3,
                       learning=Learning(Adam(lr=0.05), tau_m=True, tau_m_min=0.1 * ms)), **kwargs)
    layers = layers or [Layer(3, 'tanh', tau_m=0.3 * ms, tau_r=0.1 * ms, bias=True), Layer(2, tau_m=0.2 * ms)]
    return form(2, layers, **kwargs)


def trained(net):
    x = np.sin(np.arange(STEPS * net.batch * 2)).reshape(STEPS, net.batch, 2)
    net.run(x, np.ones((STEPS, net.batch, 2)) * 0.5)
    return net


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp('checkpoint') / 'checkpoint.npz'
    save_checkpoint(str(path), trained(small_net()), {'epoch': 1})
    return path


@pytest.mark.parametrize('content', [b'', b'PK\x03\x04', 'truncated', 'random', 'other npz', 'pickle'])
def test_unreadable_checkpoint_names_the_file_and_the_fix(content, checkpoint, tmp_path):
    path = tmp_path / 'checkpoint.npz'
    if content == 'truncated':
        path.write_bytes(checkpoint.read_bytes()[:len(checkpoint.read_bytes()) // 2])
    elif content == 'random':
        path.write_bytes(np.random.default_rng(0).bytes(3000))
    elif content == 'other npz':
        np.savez(path, w=np.zeros(3))
    elif content == 'pickle':
        np.savez(path, meta=np.array([{'epoch': 1}], dtype=object), settings=np.array('{}'))
    else:
        path.write_bytes(content)
    net = small_net()
    with pytest.raises(GLEInputError) as error:
        load_checkpoint(str(path), net)
    message = str(error.value)
    assert str(path) in message and 'delete it or use resume=False' in message
    assert 'allow_pickle=True' not in message


def test_checkpoint_round_trip_restores_state_and_learning_rates(checkpoint):
    net = small_net()
    net.set_learning_rate(0.01)               # e.g. a plateau schedule before the checkpoint: the state holds it
    meta = load_checkpoint(str(checkpoint), net)
    assert meta == {'epoch': 1} and net.learning_rates == [0.05, 0.05]
    with np.load(checkpoint, allow_pickle=False) as f:
        assert json.loads(str(f['settings'])) == net.settings()
        for key, value in net.get_state().items():
            np.testing.assert_array_equal(value, f[f'state/{key}'], err_msg=key)


OTHER_SETTINGS = [
    (dict(layers=[Layer(3, 'tanh', tau_m=0.3 * ms, tau_r=0.2 * ms, bias=True), Layer(2, tau_m=0.2 * ms)]),
     r"settings\['layers'\]\[0\]\['tau_r'\]: \[0.0001, 0.0001, 0.0001\] -> \[0.0002, 0.0002, 0.0002\]"),
    (dict(layers=[Layer(3, 'sigmoid', tau_m=0.3 * ms, tau_r=0.1 * ms, bias=True), Layer(2, tau_m=0.2 * ms)]),
     r"settings\['layers'\]\[0\]\['activation'\]\['name'\]: \"tanh\" -> \"sigmoid\""),
    (dict(layers=[Layer(3, Activation('tanh', 'tanh(x)', '1 - phi'), tau_m=0.3 * ms, tau_r=0.1 * ms, bias=True),
                  Layer(2, tau_m=0.2 * ms)]),
     r"settings\['layers'\]\[0\]\['activation'\]\['phi_prime'\]: \[0.00134\d*, .* -> \[1.9993"),
    (dict(layers=[Layer(4, 'tanh', tau_m=0.3 * ms, tau_r=0.1 * ms, bias=True), Layer(2, tau_m=0.2 * ms)]),
     r"\['layers'\]\[0\]\['size'\]: 3 -> 4"),
    (dict(learning=Learning(Adam(lr=0.01), tau_m=True, tau_m_min=0.1 * ms)),
     r"\['learning_rates'\]: \[0.05, 0.05\] -> \[0.01, 0.01\]"),
    (dict(learning=Learning(SGD(lr=0.05, momentum=0.9), tau_m=True, tau_m_min=0.1 * ms)),
     r"\['optimiser'\]: \"Adam\" -> \"SGD\""),
    (dict(learning=Learning(Adam(lr=0.05), tau_m=True, tau_m_min=0.2 * ms)), r"\['tau_m_min'\]: 0.0001 -> 0.0002"),
    (dict(loss='ce'), r"\['loss'\]: \"mse\" -> \"ce\""),
    (dict(beta=0.5), r"\['beta'\]: 0.2 -> 0.5"),
    (dict(feedback='random'), r"\['feedback'\]: \"symmetric\" -> \"random\""),
    (dict(batch=2), r"\['batch'\]: 1 -> 2"),
    (dict(dt=0.05 * ms), r"\['dt'\]: 0.0001 -> 5e-05"),
    (dict(precision='single'), r"\['precision'\]: \"double\" -> \"single\""),
    (dict(form=MicrocircuitNetwork), r"\['form'\]: \"GLENetwork\" -> \"MicrocircuitNetwork\""),
]


@pytest.mark.parametrize('kwargs, match', OTHER_SETTINGS, ids=[m.split("'")[-2] for _, m in OTHER_SETTINGS])
def test_checkpoint_of_other_settings_is_refused_with_the_differences(kwargs, match, checkpoint):
    net = small_net(**kwargs)
    state = trained(net).get_state()
    with pytest.raises(GLEConfigError, match=match) as error:
        load_checkpoint(str(checkpoint), net)
    assert 'other settings' in str(error.value) and 'delete it or use resume=False' in str(error.value)
    for key, value in net.get_state().items():
        np.testing.assert_array_equal(value, state[key], err_msg=key)


def test_activation_written_otherwise_is_the_same(checkpoint):
    """An activation is compared by what it computes: tanh's derivative written as 1 - tanh(x)**2 (as an
    earlier version did) instead of 1 - phi**2 loads the checkpoint."""
    tanh = Activation('tanh', 'tanh(x)', '1 - tanh(x)**2')
    net = small_net(layers=[Layer(3, tanh, tau_m=0.3 * ms, tau_r=0.1 * ms, bias=True), Layer(2, tau_m=0.2 * ms)])
    assert load_checkpoint(str(checkpoint), net) == {'epoch': 1}


def test_random_feedback_weights_are_part_of_the_settings(tmp_path):
    path = str(tmp_path / 'checkpoint.npz')
    save_checkpoint(path, trained(small_net(feedback='random', seed=1)), {})
    load_checkpoint(path, small_net(feedback='random', seed=1))
    with pytest.raises(GLEConfigError, match=r"\['feedback_weights'\]: \"[0-9a-f]{16}\" -> \"[0-9a-f]{16}\""):
        load_checkpoint(path, small_net(feedback='random', seed=2))


def test_microcircuit_checkpoint_round_trip(tmp_path):
    path = str(tmp_path / 'checkpoint.npz')
    a = trained(small_net(MicrocircuitNetwork))
    save_checkpoint(path, a, {'epoch': 2})
    b = small_net(MicrocircuitNetwork)
    assert load_checkpoint(path, b) == {'epoch': 2}
    for net in (a, b):
        trained(net)
    np.testing.assert_array_equal(a.weights[0], b.weights[0])


@pytest.mark.parametrize('fault', ['shape', 'type'])
def test_bad_state_leaves_the_network_unchanged(fault):
    net = trained(small_net())
    before = net.get_state()
    bad = dict(before)
    last = sorted(bad)[-1]           # checked last in a layer-by-layer write
    bad[last] = np.zeros(bad[last].size + 1) if fault == 'shape' else np.array(['x'] * bad[last].size)
    bad[sorted(bad)[0]] = before[sorted(bad)[0]] + 1.0
    with pytest.raises(GLEInputError, match=rf"state\['{last}'\] is not an array of shape"):
        net.set_state(bad)
    for key, value in net.get_state().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_killed_write_leftovers_are_removed_at_the_next_write(tmp_path):
    """A write killed before its rename leaves '.<name>.XXXXXXXX<ext>'; the next write of that file removes
    it, but keeps a fresh one (a concurrent writer's) and the temporary files of other destinations."""
    old = time.time() - STALE_SECONDS - 10
    leftovers = {name: tmp_path / name for name in ('.checkpoint.npz.k1ll3d_x.npz', '.checkpoint.npz.wr1t1ng_.npz',
                                                    '.metrics.json.k1ll3d_x.json')}
    for path in leftovers.values():
        path.write_bytes(b'PK half a file')
        os.utime(path, (old, old))
    now = time.time()
    os.utime(leftovers['.checkpoint.npz.wr1t1ng_.npz'], (now, now))
    save_npz(tmp_path / 'checkpoint.npz', w=np.arange(3.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ['.checkpoint.npz.wr1t1ng_.npz',
                                                          '.metrics.json.k1ll3d_x.json', 'checkpoint.npz']
    write_json(tmp_path / 'metrics.json', {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ['.checkpoint.npz.wr1t1ng_.npz', 'checkpoint.npz',
                                                          'metrics.json']


def test_checkpoint_without_later_settings_loads_with_their_defaults(checkpoint, tmp_path):
    """A checkpoint written before projections, connectivity, signs and outputs were settings (a layered network
    has their defaults) loads into the same network."""
    with np.load(checkpoint) as f:
        arrays = {key: f[key] for key in f.files}
    settings = json.loads(str(arrays['settings']))
    for key in ('projections', 'connect', 'signs', 'outputs'):
        del settings[key]
    path = tmp_path / 'older.npz'
    np.savez(path, **dict(arrays, settings=np.array(json.dumps(settings))))
    assert load_checkpoint(str(path), small_net()) == {'epoch': 1}


def test_graph_outputs_are_part_of_the_settings(tmp_path):
    populations = {'hidden': Layer(3, 'tanh', tau_m=0.3 * ms, bias=True), 'out': Layer(2, tau_m=0.2 * ms)}
    projections = [Projection('input', 'hidden'), Projection('hidden', 'out')]
    path = str(tmp_path / 'checkpoint.npz')
    net = GLEGraph(2, populations, projections, dt=0.1 * ms, device='numpy', loss='mse', seed=3,
                   output=['hidden', 'out'])
    net.run(np.zeros((STEPS, 2)), np.zeros((STEPS, 5)))
    save_checkpoint(path, net, {})
    with pytest.raises(GLEConfigError, match=r"\['outputs'\]: \[0, 1\] -> \[1\]"):
        load_checkpoint(path, GLEGraph(2, populations, projections, dt=0.1 * ms, device='numpy', loss='mse', seed=3))


@pytest.mark.parametrize('phi', ['ｏｐｅｎ(MARKER, "w")', '__import__("os").system("touch MARKER")', '0*9**9**9'])
def test_a_crafted_checkpoint_runs_no_code(checkpoint, tmp_path, phi):
    """Activation expressions in a checkpoint's settings are checked before anything evaluates them: fullwidth
    letters (which Python reads as ASCII names, so 'ｏｐｅｎ' was open), calls outside the activations' functions and
    powers that would take forever are refused, and the load fails on the settings, fast."""
    marker = tmp_path / 'ran'
    with np.load(checkpoint) as f:
        arrays = {key: f[key] for key in f.files}
    settings = json.loads(str(arrays['settings']))
    settings['layers'][0]['activation']['phi'] = phi.replace('MARKER', repr(str(marker)))
    path = tmp_path / 'crafted.npz'
    np.savez(path, **dict(arrays, settings=np.array(json.dumps(settings))))
    started = time.perf_counter()
    with pytest.raises(GLEConfigError, match='other settings'):
        load_checkpoint(str(path), small_net())
    assert time.perf_counter() - started < 10 and not marker.exists()
    with pytest.raises(GLEConfigError, match='ASCII|not allowed'):
        Activation('crafted', phi.replace('MARKER', repr(str(marker))), '1.0')


def arrays_of(path):
    with np.load(path) as f:
        return {key: f[key] for key in f.files}


def assert_unchanged(net, before):
    for key, value in net.get_state().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_checkpoints_record_their_format_and_a_later_one_is_refused(checkpoint, tmp_path):
    arrays = arrays_of(checkpoint)
    assert int(arrays['format']) == FORMAT
    path = tmp_path / 'unversioned.npz'                     # format 1: written before the format was recorded
    np.savez(path, **{key: value for key, value in arrays.items() if key != 'format'})
    assert load_checkpoint(str(path), small_net()) == {'epoch': 1}
    net = trained(small_net())
    before = net.get_state()
    np.savez(path, **dict(arrays, format=np.array(FORMAT + 1)))
    with pytest.raises(GLEInputError, match=rf'format {FORMAT + 1}; this gle_brian reads formats 1 to {FORMAT} '
                                            r'\(a later version'):
        load_checkpoint(str(path), net)
    assert_unchanged(net, before)


def toy_training(tmp_path, epochs=1, **kwargs):
    from test_training import toy_data, toy_net
    net = toy_net('numpy')
    history = train(net, toy_data(6, 0), toy_data(3, 1), epochs=epochs, progress=False, **kwargs)
    return net, history


@pytest.mark.parametrize('entry', ['plateau', 'rng', 'base_rates', 'history'])
def test_resume_from_an_incomplete_training_state_is_refused_before_the_network_changes(entry, tmp_path):
    """A checkpoint without (or with a malformed) plateau, random-generator, learning-rate or history entry (an
    earlier layout, or save_checkpoint called by hand) is refused naming the entry; the network keeps its state."""
    path = tmp_path / 'checkpoint.npz'
    toy_training(tmp_path, checkpoint=str(path))
    arrays = arrays_of(path)
    meta = json.loads(str(arrays['meta']))
    if entry == 'history':
        meta['history'] = [dict(record, epoch=str(record['epoch'])) for record in meta['history']]
    else:
        del meta[entry]
    np.savez(path, **dict(arrays, meta=np.array(json.dumps(meta))))
    from test_training import toy_data, toy_net
    net = toy_net('numpy')
    net.run(np.ones((5, 3, 2)))
    before = net.get_state()
    with pytest.raises(GLEInputError, match=rf"lacks the training state .*meta\['{entry}'\]"):
        train(net, toy_data(6, 0), toy_data(3, 1), epochs=2, progress=False, checkpoint=str(path), resume=True)
    assert_unchanged(net, before)


@pytest.mark.parametrize('where', ['file as folder', 'folder as file'])
def test_a_checkpoint_path_that_cannot_be_written_is_refused_before_the_first_test(where, tmp_path, monkeypatch):
    blocker = tmp_path / 'blocker'
    if where == 'file as folder':
        blocker.write_text('a file')
        path = blocker / 'checkpoint.npz'
    else:
        blocker.mkdir()
        path = blocker
    monkeypatch.setattr(training, 'evaluate', lambda *args, **kwargs: pytest.fail('tested before the path check'))
    with pytest.raises(GLEConfigError, match=rf"checkpoint='{path}': .*(is a file, not a folder|is a folder)"):
        toy_training(tmp_path, checkpoint=str(path))


def crafted_variants(arrays, marker, rng):
    """Checkpoints made from a good one: truncated, bytes flipped, entries of wrong types, crafted expressions."""
    settings, meta = json.loads(str(arrays['settings'])), json.loads(str(arrays['meta']))
    state = [key for key in arrays if key.startswith('state/')]
    expressions = [f'open({str(marker)!r}, "w")', 'ｅｘｅｃ("1")', '__builtins__', '9**9**9**9', 'x' * 100_000,
                   '(' * 500 + 'x' + ')' * 500, 'lambda: 1', '[x for x in ()]', 'x.__class__', '1e999999']
    entries = [('meta', np.array(3)), ('meta', np.array('[1, 2]')), ('meta', np.array('{"epoch": ')),
               ('settings', np.array('[]')), ('settings', np.zeros(3)), ('settings', np.array('[' * 100_000)),
               ('format', np.array('two')), ('format', np.zeros(2)), ('format', np.array(-1)),
               (state[0], np.array(['x'])), (state[-1], np.zeros((2, 2))), (state[1], np.array(np.nan)),
               ('settings', np.array(json.dumps(dict(settings, layers='tanh')))),
               ('settings', np.array(json.dumps(dict(settings, layers=[None, 3])))),
               ('meta', np.array(json.dumps(dict(meta, rng={'bit_generator': 'MT19937'}))))]
    for expression in expressions:
        crafted = json.loads(json.dumps(settings))
        crafted['layers'][rng.integers(2)]['activation'][rng.choice(['phi', 'phi_prime'])] = expression
        entries.append(('settings', np.array(json.dumps(crafted))))
    for key, value in entries:
        yield 'entry', dict(arrays, **{key: value})
    del arrays[state[0]]
    yield 'entry', arrays


def test_fuzzed_checkpoints_give_clear_errors_and_run_no_code(checkpoint, tmp_path):
    """Hundreds of damaged and crafted checkpoints: each loads, or is refused with a gle_brian error naming the file;
    none raises anything else, runs code or takes long; a refused one leaves the network as it was."""
    rng = np.random.default_rng(5)
    marker = tmp_path / 'ran'
    good = checkpoint.read_bytes()
    files = []
    for k in range(120):                                       # damaged bytes
        data = bytearray(good)
        if k % 3 == 0:
            data = data[:rng.integers(len(data))]
        for position in rng.integers(len(data), size=1 + k % 7):
            data[position] = rng.integers(256)
        files.append(bytes(data))
    for _, arrays in crafted_variants(arrays_of(checkpoint), marker, rng):
        path = tmp_path / 'variant.npz'
        np.savez(path, **arrays)
        files.append(path.read_bytes())
    net = trained(small_net())
    before = net.get_state()
    path = tmp_path / 'fuzzed.npz'
    loaded = refused = 0
    for data in files:
        path.write_bytes(data)
        started = time.perf_counter()
        try:
            load_checkpoint(str(path), net)
            loaded += 1
            net.set_state(before)
        except (GLEInputError, GLEConfigError) as error:
            assert str(path) in str(error)
            refused += 1
            assert_unchanged(net, before)
        assert time.perf_counter() - started < 10
    assert not marker.exists() and refused > 100 and loaded + refused == len(files)
