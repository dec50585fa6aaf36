"""GLE networks of any shape (``GLEGraph``): skip connections, lateral and recurrent loops, sparse projections and
sign constraints, equal to the numpy mirror ``ReferenceGraph`` with learning and batches."""
import numpy as np
import pytest
import scipy.sparse
from brian2 import ms

from gle_brian import Adam, GLEConfigError, GLEGraph, GLEInputError, GLENumericalError, Layer, Learning, Projection
from gle_brian.reference import ReferenceGraph, ReferenceProjection
from mirror import assert_equals_mirror
from test_graph_reference import recurrent_backprop, recurrent_network

DT = 0.01 * ms
STEPS = 150
# The populations in loops are LE (or nearly): a prospective error e = v + tau_m dv/dt amplifies what goes round
# a loop by up to tau_m/tau_r per step, and with tau_m/tau_r = 5 here the errors grew without bound within 10 steps
# (in Brian2 and in the mirror alike).
POPULATIONS = {'L4': Layer(5, 'tanh', tau_m=1 * ms, bias=True),
               'L23': Layer(4, 'tanh', tau_m=0.6 * ms, tau_r=0.5 * ms, bias=True),
               'inh': Layer(3, 'tanh', tau_m=0.5 * ms, bias=True),
               'out': Layer(3, 'linear', tau_m=0.8 * ms, tau_r=0.2 * ms, bias=True)}
LOOPS = np.random.default_rng(11).uniform(-0.2, 0.2, (2, 5, 5))   # weak loops: rates and errors stay bounded
PROJECTIONS = [Projection('input', 'L4'),
               Projection('L4', 'L4', connect='i != j', weights=LOOPS[0], plastic=False),   # lateral, fixed
               Projection('L4', 'L23', connect=dict(p=0.2), sign=+1),            # sparse, excitatory
               Projection('L23', 'L4', weights=LOOPS[1][:, :4]),                 # top-down: a loop
               Projection('L4', 'inh', sign=+1, feedback='symmetric'),                # inhibition
               Projection('inh', 'L23', sign=-1, feedback='random'),
               Projection('input', 'out'),                                       # skip connections
               Projection('L23', 'out'), Projection('L4', 'out', connect='j <= i')]
# the compiled check: the same kinds of projection on three populations (a C++ project of fewer files)
COMPILED = ({name: POPULATIONS[name] for name in ('L4', 'L23', 'out')},
            [PROJECTIONS[k] for k in (0, 1, 2, 3, 7)]
            + [Projection('L4', 'out', connect='j <= i', sign=-1, feedback='symmetric')])


def mirror(net, **kwargs):
    """The ReferenceGraph of ``net``: its populations, and its projections' weights as they are now (scipy.sparse
    where the projection is sparse), feedback and signs."""
    projections = []
    for k, (spec, w) in enumerate(zip(net.graph_projections, net.weights)):
        pre, post = net.projection_specs[k]
        synapses = net.connectivity[k]
        feedback = net.feedback_weights[k] if net.feedback_modes[k] == 'random' else None
        if synapses is not None:
            def sparse(matrix, pre_=synapses[0], post_=synapses[1]):
                return scipy.sparse.csr_matrix((matrix[post_, pre_], (post_, pre_)), shape=matrix.shape)
            w, feedback = sparse(w), None if feedback is None else sparse(feedback)
        projections.append(ReferenceProjection(pre, post, w, feedback, spec.sign, spec.plastic))
    return ReferenceGraph(net.n_in, net.layers, projections, outputs=net.outputs, biases=net.biases,
                          **kwargs)


@pytest.mark.parametrize('device, loss, batch, feedback', [
    ('numpy', 'mse', 1, 'symmetric'), ('numpy', 'ce', 3, 'random'),
    pytest.param('cpp_standalone', 'ce', 3, 'random', marks=pytest.mark.standalone),
    pytest.param('cython', 'ce', 3, 'random', marks=pytest.mark.long)])     # cython: minutes of compiling, cold
def test_graph_equals_the_mirror(device, loss, batch, feedback, tmp_path):
    """Every variable of every population, W of every projection, b and tau_m equal the mirror to 1e-12 over two
    runs with Adam on all of them (projections of both feedback modes in each network); absent synapses stay zero,
    signs hold, every plastic projection learns and the fixed one stays as it was. The compiled graphs have two
    outputs (L2/3 also sends projections; see test_several_outputs_one_inside_the_graph_equal_the_mirror)."""
    learning = Learning(Adam(lr=0.01), tau_m=True, tau_m_min=0.05 * ms)
    kwargs = dict(dt=DT, loss=loss, beta=0.5, batch=batch, learning=learning)
    populations, projections = (POPULATIONS, PROJECTIONS) if device == 'numpy' else COMPILED
    net = GLEGraph(3, populations, projections, device=device, seed=7, feedback=feedback,
                   record=['u', 'u_breve', 'r', 'r_prime', 'v', 'err', 'I_basal', 'I_apical'],
                   output=None if device == 'numpy' else ['L23', 'out'], directory=str(tmp_path / 'project'), **kwargs)
    assert net.population_names == list(populations) == [group.name for group in net.neurons]
    initial = net.weights
    ref = mirror(net, **kwargs)
    rng = np.random.default_rng(3)
    for _ in range(2):
        x = rng.normal(size=(STEPS, batch, 3))
        y = np.concatenate([np.eye(net.layers[l].size)[rng.integers(0, net.layers[l].size, (STEPS, batch))]
                            if loss == 'ce' else rng.normal(size=(STEPS, batch, net.layers[l].size))
                            for l in net.outputs], axis=2)
        net.run(x, y)
        assert_equals_mirror(net, ref, ref.run(x, y), atol=1e-12, tau_m=True)
    for k, (spec, w0, w) in enumerate(zip(projections, initial, net.weights)):
        synapses = net.connectivity[k]
        if synapses is not None:
            absent = np.ones(w.shape, bool)
            absent[synapses[1], synapses[0]] = False
            assert np.all(w[absent] == 0), k
        if spec.sign is not None:
            assert np.all(spec.sign * w >= 0), k
        if spec.plastic:
            assert np.abs(w - w0).max() > 1e-4, f'projection {k} did not learn'
        else:
            assert np.array_equal(w, w0), f'projection {k} is not plastic but changed'


def test_lateral_projection_reads_the_stored_rates():
    """A population onto itself, LE neurons, no input: r[n+1] = tanh(W r[n] + b), one step of delay per synapse."""
    w = np.random.default_rng(0).normal(size=(4, 4))
    b = np.array([0.5, -0.3, 0.2, 0.1])
    net = GLEGraph(1, {'pop': Layer(4, 'tanh', tau_m=1 * ms, bias=True)},
                   [Projection('input', 'pop', weights=np.zeros((4, 1))), Projection('pop', 'pop', weights=w)],
                   dt=DT, device='numpy', biases=[b], record=['r'])
    net.run(np.zeros((20, 1)))
    r, expected = net.trace('r', 0), [np.zeros(4)]
    for _ in range(20):
        expected.append(np.tanh(w @ expected[-1] + b))
    np.testing.assert_allclose(r, np.array(expected[1:]), rtol=0, atol=1e-14)


@pytest.mark.parametrize('populations, projections, kwargs, match', [
    (POPULATIONS, [Projection('input', 'L5')], {}, r"projections\[0\] \(input -> L5\): post='L5' is not a population; "
                                                   r"use one of \['L4', 'L23', 'inh', 'out'\]"),
    (POPULATIONS, [Projection('thalamus', 'L4')], {}, r"pre='thalamus' is not a population; use one of .* or 'input'"),
    (POPULATIONS, PROJECTIONS, dict(output='L6'),
     r"output='L6': \['L6'\]; give one of \['L4', 'L23', 'inh', 'out'\] or a list"),
    (POPULATIONS, PROJECTIONS, dict(output=['out', 'out']), r"output=\['out', 'out'\]: no population, or one twice"),
    (POPULATIONS, [Projection('input', 'L4', feedback='mirror')], {},
     r"projections\[0\] \(input -> L4\): feedback='mirror' is not known; use one of \['symmetric', 'random'\]"),
    (POPULATIONS, PROJECTIONS, dict(record=['w']), r"record=\[..., 'w'\]: a graph's weights are not recorded"),
    ({'L4': 3}, PROJECTIONS, {}, r"populations=\{'L4': 3\}: give a dict \{name: Layer\}"),
    (POPULATIONS, [Projection('input', 'L4', connect='k > 1')] + PROJECTIONS[1:], {},
     r"connect\[0\]='k > 1' \(projection 0: input -> L4\): Brian2 cannot make these synapses"),
    (POPULATIONS, [Projection('input', 'L4', sign=-1, weights=np.ones((5, 3)))] + PROJECTIONS[1:], {},
     r'weights\[0\] has 15 values of the wrong sign for signs\[0\]=-1'),
    ({'L2/3': POPULATIONS['L23']}, [Projection('input', 'L2/3')], {},
     r"populations: the name 'L2/3' cannot name Brian2 groups; give names of letters, digits and '_' "
     r".* \(e\.g\. 'L23'"),
    ({'network': POPULATIONS['L23']}, [Projection('input', 'network')], {}, r"the name 'network' cannot name"),
])
def test_bad_graphs_name_the_projection_and_the_fix(populations, projections, kwargs, match):
    # a seed: the random connections (p = 0.2) of PROJECTIONS are then the same in every run of the suite, and make
    # synapses (without one they are drawn from numpy's generator, as the tests before left it)
    with pytest.raises(GLEConfigError, match=match):
        GLEGraph(3, populations, projections, dt=DT, device='numpy', seed=1, **kwargs)


def test_recurrent_population_drive_is_the_recurrent_backprop_gradient():
    """On the Brian2 network itself: a recurrent LE population read out linearly, static input; at the fixed
    point the drives -e r^T of the input, recurrent and read-out weights are beta times the gradients of the fixed
    point's loss from recurrent backpropagation (Almeida-Pineda), relative 1e-8."""
    recurrent, w_in, w_out, b, x, target = recurrent_network()
    beta, steps = 0.1, 4000
    net = GLEGraph(len(x), {'rec': Layer(len(b), 'tanh', tau_m=1 * ms, bias=True),
                            'out': Layer(len(target), 'linear', tau_m=1 * ms)},
                   [Projection('input', 'rec', weights=w_in), Projection('rec', 'rec', weights=recurrent),
                    Projection('rec', 'out', weights=w_out)],
                   dt=0.025 * ms, device='numpy', loss='mse', beta=beta, biases=[b, None], record=['r', 'err'])
    net.run(np.tile(x, (steps, 1)), np.tile(target, (steps, 1)))
    r, y, lam = recurrent_backprop(recurrent, w_in, w_out, b, x, target)
    rates, errors = net.trace('r', 0)[-1], [net.trace('err', q)[-1] for q in range(2)]
    np.testing.assert_allclose(rates, r, rtol=1e-12)
    drives = [-np.outer(errors[0], x), -np.outer(errors[0], rates), -np.outer(errors[1], rates), -errors[0]]
    gradients = [np.outer(lam, x), np.outer(lam, r), np.outer(y - target, r), lam]
    for k, (drive, gradient) in enumerate(zip(drives, gradients)):
        np.testing.assert_allclose(drive, beta * gradient, rtol=1e-8, atol=1e-14, err_msg=f'parameter {k}')


def test_several_outputs_one_inside_the_graph_equal_the_mirror():
    """Two outputs with targets of their own (cross-entropy each, batch 2, Adam on W, b, tau_m): 'out' and L2/3,
    which also sends projections (its apical input: the output error plus the errors sent back to it)."""
    learning = Learning(Adam(lr=0.01), tau_m=True, tau_m_min=0.05 * ms)
    kwargs = dict(dt=DT, loss='ce', beta=0.5, batch=2, learning=learning)
    net = GLEGraph(3, POPULATIONS, PROJECTIONS, output=['L23', 'out'], device='numpy', seed=7,
                   record=['u', 'u_breve', 'r', 'r_prime', 'v', 'err', 'I_basal', 'I_apical'], **kwargs)
    assert net.population_names == ['L4', 'inh', 'L23', 'out'] and net.outputs == [2, 3] and net.n_out == 7
    ref = mirror(net, **kwargs)
    rng = np.random.default_rng(5)
    for _ in range(2):
        x = rng.normal(size=(STEPS, 2, 3))
        y = {'out': np.eye(3)[rng.integers(0, 3, (STEPS, 2))], 'L23': np.eye(4)[rng.integers(0, 4, (STEPS, 2))]}
        net.run(x, y)
        assert_equals_mirror(net, ref, ref.run(x, np.concatenate([y['L23'], y['out']], axis=2)), atol=1e-12,
                             tau_m=True)
    assert np.abs(net.trace('err', 2)).max() > 1e-3
    with pytest.raises(GLEInputError, match=r"target has entries for \['L4'\], which have no output error"):
        net.run(x, dict(y, L4=np.zeros((STEPS, 2, 5))))
    with pytest.raises(GLEInputError, match=r"target has no entry for the outputs \['L23'\]"):
        net.run(x, {'out': y['out']})
    with pytest.raises(GLEInputError, match=rf"target\['out'\] has {STEPS} steps, expected 10; give one row"):
        net.run(x, dict(y, L23=y['L23'][:10]))


def test_nan_watch_names_the_population():
    """A loop that grows without bound: the NaN watch names the population where it started."""
    net = GLEGraph(1, {'rec': Layer(2, 'linear', tau_m=1 * ms)},
                   [Projection('input', 'rec'), Projection('rec', 'rec', weights=np.full((2, 2), 1e3))],
                   dt=1 * ms, device='numpy')
    with np.errstate(all='ignore'), pytest.raises(GLENumericalError, match=r'population rec \(index 0\) became NaN '
                                                                           r'or inf at step \d+ of this run'):
        net.run(np.ones((300, 1)))


def test_plastic_must_be_a_bool():
    """Projection(plastic='no') was taken as True (a non-empty string): now it names the fix."""
    with pytest.raises(GLEConfigError, match=r"plastic='no': give True .* or False"):
        GLEGraph(1, {'out': Layer(1, tau_m=1 * ms)}, [Projection('input', 'out', plastic='no')], dt=0.1 * ms,
                 device='numpy')


def test_unconnected_populations_and_unreachable_outputs_are_warned_of():
    from brian2.utils.logger import catch_logs
    tanh = Layer(2, 'tanh', tau_m=1 * ms)
    populations = {'a': tanh, 'b': tanh, 'out': Layer(1, tau_m=1 * ms)}
    with catch_logs() as logs:
        GLEGraph(1, populations, [Projection('input', 'a'), Projection('b', 'out')], dt=0.1 * ms, device='numpy',
                 seed=1)
    messages = [message for _, name, message in logs if name.startswith('brian2.gle_brian')]
    assert any('population b (index 1) receives no projection' in m for m in messages), logs
    assert any('population out (index 2) is an output that the input does not reach' in m for m in messages), logs


def test_names_that_clash_with_derived_names_or_are_too_long_are_refused():
    one = Layer(1, tau_m=1 * ms)
    with pytest.raises(GLEConfigError, match="'a_error' is the name of an object of population 'a'"):
        GLEGraph(1, {'a': one, 'a_error': one}, [Projection('input', 'a'), Projection('a', 'a_error')], dt=0.1 * ms,
                 device='numpy')
    with pytest.raises(GLEConfigError, match='has 240 characters; give names of at most 100'):
        GLEGraph(1, {'a' * 240: one}, [Projection('input', 'a' * 240)], dt=0.1 * ms, device='numpy')
    GLEGraph(1, {'L4': one, 'L4_inh': one}, [Projection('input', 'L4'), Projection('L4', 'L4_inh')], dt=0.1 * ms,
             device='numpy')                           # another suffix is fine
