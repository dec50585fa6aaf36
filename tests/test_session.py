"""A GLE network leaves the user's Brian2 session as it was, and takes what the user set in it: device and
build options, code-generation target, defaultclock.dt, the float type, Brian2's seed()."""
import os

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, defaultclock, get_device, ms, prefs, seed, set_device, start_scope
from brian2.devices.device import all_devices, reset_device

from gle_brian import GLEConfigError, GLEInputError, GLENetwork, Layer
from conftest import small_net


@pytest.fixture(autouse=True)
def session():
    """The Brian2 session a test changes (device, target, dt, float type) is put back afterwards."""
    start_scope()
    target, dtype, dt = prefs.codegen.target, prefs.core.default_float_dtype, defaultclock.dt
    yield
    reset_device('runtime')
    prefs.codegen.target, prefs.core.default_float_dtype, defaultclock.dt = target, dtype, dt


@pytest.mark.standalone
def test_a_users_runtime_network_runs_on_after_a_standalone_network(tmp_path):
    """A standalone GLENetwork used to switch Brian2 to its device for good: the user's runtime Network that
    ran before then failed. Now the user's device and target are back after every call."""
    prefs.codegen.target = 'numpy'
    mine = NeuronGroup(1, 'dv/dt = -v/(10*ms) : 1')
    mine.v = 1
    own = Network(mine)
    own.run(1 * ms)
    net = small_net(device='cpp_standalone', directory=str(tmp_path / 'project'))
    assert get_device() is all_devices['runtime'] and prefs.codegen.target == 'numpy'
    net.run(np.zeros((20, 2)))
    assert get_device() is all_devices['runtime'] and prefs.codegen.target == 'numpy'
    own.run(1 * ms)                                       # raised BrianObjectException before
    assert float(mine.v[0]) == pytest.approx(np.exp(-0.2), rel=1e-3)


def test_the_code_generation_target_stays_the_users():
    prefs.codegen.target = 'numpy'
    net = small_net(device='cython')
    assert prefs.codegen.target == 'numpy'
    net.reset_state()
    assert prefs.codegen.target == 'numpy'


@pytest.mark.standalone
def test_a_set_device_directory_is_the_project_folder(tmp_path):
    folder = str(tmp_path / 'mine')
    set_device('cpp_standalone', build_on_run=False, directory=folder)
    net = small_net(device='cpp_standalone')
    net.run(np.zeros((10, 2)))
    assert net.project.directory == folder and os.path.isfile(os.path.join(folder, 'main'))
    assert get_device().build_options['directory'] == folder      # the user's options are kept


def test_defaultclock_float_type_and_seed_are_the_users():
    defaultclock.dt = 0.02 * ms
    prefs.core.default_float_dtype = np.float32
    layers = [Layer(3, 'tanh', tau_m=1 * ms), Layer(1, tau_m=1 * ms)]
    seed(11)
    first = GLENetwork(2, layers, device='numpy')
    seed(11)
    second = GLENetwork(2, layers, device='numpy')
    assert first.dt == 0.02 * ms and first.precision == 'single'
    assert first.neurons[0].u[:].dtype == np.float32
    for a, b in zip(first.weights, second.weights):
        np.testing.assert_array_equal(a, b)


def test_beta_is_checked_when_set_and_counts_from_the_next_run():
    net = small_net(beta=1.0)
    with pytest.raises(GLEConfigError, match='beta=-1 must be a finite number >= 0'):
        net.beta = -1
    net.beta = 0.0
    before = net.weights
    net.run(np.ones((50, 2)), np.ones((50, 1)), learn=False)
    assert np.all(net.neurons[-1].I_apical[:] == 0) and net.beta == 0.0
    np.testing.assert_array_equal(before[0], net.weights[0])


def test_duration_of_an_array_input_must_match():
    net = small_net()
    net.run(np.zeros((100, 2)), duration=100 * 0.01 * ms)
    with pytest.raises(GLEInputError, match=r'duration=2. ms is 200 steps .* but x has \(100,\) rows'):
        net.run(np.zeros((100, 2)), duration=2 * ms)


@pytest.mark.standalone
def test_what_a_compiled_binary_cannot_see_is_an_error_not_a_silent_revert(tmp_path):
    """After the standalone build, a Brian2 assignment given to the device directly, or a monitor added to the
    network, never reached the binary and was silently lost: now the next run says so (once)."""
    from brian2 import StateMonitor
    net = small_net(device='cpp_standalone', directory=str(tmp_path / 'project'))
    net.run(np.zeros((20, 2)))
    with net.runner.active():
        net.neurons[0].gamma = 0.5
    with pytest.raises(GLEConfigError, match=r'Brian2 assignments .*layer_0_gamma.* do not reach the binary.*'
                                             r'net.set_state'):
        net.run(np.zeros((20, 2)))
    with net.runner.active():
        net.network.add(StateMonitor(net.neurons[0], 'u', record=True, name='late_monitor'))
    with pytest.raises(GLEConfigError, match=r'objects added since \(late_monitor\)'):
        net.run(np.zeros((20, 2)))
    net.run(np.zeros((20, 2)))                               # reported once; the network runs on
    assert np.all(net.get_state()['layer_0.gamma'] == 0)    # the binary never saw the assignment
