"""Sparse projections (Brian2's connection arguments) and sign constraints (Dale's law) in layered networks:
equal to the numpy mirror with scipy.sparse matrices, with learning and batches, on numpy and cpp_standalone."""
import glob
import os

import numpy as np
import pytest
import scipy.sparse
from brian2 import ms

from gle_brian import Adam, GLEConfigError, GLENetwork, Layer, Learning, ReferenceNetwork, init_weights
from gle_brian.projections import draw_weights
from mirror import assert_equals_mirror

DT = 0.01 * ms
STEPS = 120
LAYERS = [Layer(5, 'tanh', tau_m=1 * ms, tau_r=0.2 * ms, bias=True),
          Layer(4, 'tanh', tau_m=0.6 * ms, tau_r=0.1 * ms, bias=True),
          Layer(3, 'linear', tau_m=0.8 * ms, bias=True)]
CONNECT = [None, dict(p=0.5), 'i != j']          # all-to-all; random; a condition
SIGNS = [None, +1, -1]


def sparse(matrix, synapses):
    """``matrix`` at the synapses ``(pre, post)`` as a CSR matrix (its stored entries are the synapses)."""
    pre, post = synapses
    return scipy.sparse.csr_matrix((matrix[post, pre], (post, pre)), shape=matrix.shape)


@pytest.mark.parametrize('device', ['numpy'])
@pytest.mark.parametrize('loss, batch, feedback', [('mse', 1, 'symmetric'), ('ce', 3, 'random')])
def test_sparse_signed_network_equals_the_mirror(device, loss, batch, feedback, tmp_path):
    """Random and conditional connectivity, excitatory and inhibitory projections, Adam on W, b and tau_m: every
    variable, W, b and tau_m equal the mirror to 1e-12; absent synapses stay zero, signs hold, weights learn.
    (The compiled path of sparse and signed projections: tests/test_graph.py, on cpp_standalone.)"""
    learning = Learning(Adam(lr=0.02), tau_m=True, tau_m_min=0.05 * ms)
    kwargs = dict(dt=DT, loss=loss, beta=0.5, batch=batch, learning=learning)
    net = GLENetwork(3, LAYERS, device=device, seed=4, connect=CONNECT, signs=SIGNS, feedback=feedback,
                     record=['u', 'u_breve', 'r', 'r_prime', 'v', 'err', 'I_basal', 'I_apical'],
                     directory=str(tmp_path / 'project'), **kwargs)
    initial = net.weights
    synapses = [c if c is not None else np.nonzero(np.ones_like(w).T) for c, w in zip(net.connectivity, initial)]
    assert 0 < len(net.connectivity[1][0]) < 20 and len(net.connectivity[2][0]) == 3 * 4 - 3
    feedback_matrices = None if feedback == 'symmetric' else [sparse(b, s)
                                                              for b, s in zip(net.feedback_weights, synapses)]
    ref = ReferenceNetwork(3, LAYERS, [sparse(w, s) for w, s in zip(initial, synapses)], biases=net.biases,
                           feedback=feedback_matrices, signs=SIGNS, **kwargs)
    rng = np.random.default_rng(1)
    for _ in range(2):                      # the state and the optimiser's carry over from run to run
        x = 3 * rng.normal(size=(STEPS, batch, 3))
        y = np.eye(3)[rng.integers(0, 3, (STEPS, batch))] if loss == 'ce' else rng.normal(size=(STEPS, batch, 3))
        net.run(x, y)
        assert_equals_mirror(net, ref, ref.run(x, y), atol=1e-12, tau_m=True)
    final = net.weights
    for l, (w0, w) in enumerate(zip(initial, final)):
        absent = np.ones(w.shape, bool)
        absent[synapses[l][1], synapses[l][0]] = False
        assert np.all(w[absent] == 0) and np.abs(w - w0).max() > 1e-3, f'layer {l}'
    assert np.all(final[1] >= 0) and np.all(final[2] <= 0)


def test_connectivity_is_drawn_with_the_seed():
    def synapses(seed):
        return GLENetwork(3, LAYERS, dt=DT, device='numpy', seed=seed, connect=CONNECT).connectivity[1]
    first, again, other = synapses(1), synapses(1), synapses(2)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


@pytest.mark.parametrize('kwargs, match', [
    (dict(connect=[None, 'k < 2', None]), r"connect\[1\]='k < 2' \(the projection layer 0 -> layer 1\): Brian2 cannot "
                                          r"make these synapses .*e\.g\. 'abs\(i - j\) < 3'"),
    (dict(connect=[None, dict(probability=0.5), None]), r"connect\[1\]=\{'probability': 0.5\}.*Brian2 cannot make"),
    (dict(connect=[None, 0.5, None]), r"connect\[1\]=0.5: give None, a condition string or a dict"),
    (dict(connect=[None, 'i > 10', None]), r"connect\[1\]='i > 10' \(the projection layer 0 -> layer 1\) makes no "
                                           r"synapses; loosen the condition or raise p"),
    (dict(connect=[None, None]), r'give a list with one entry per projection \(3; per layer'),
    (dict(signs=[None, 2, None]),
     r'signs=\[None, 2, None\]: give one entry per projection \(3; per layer in a layered network\), each None, \+1'),
    (dict(signs=[None, None, -1], weights=[np.ones((5, 3)), np.ones((4, 5)), np.ones((3, 4))]),
     r'weights\[2\] has 12 values of the wrong sign for signs\[2\]=-1; give weights <= 0 there \(e\.g\. -abs\(w\)\)'),
])
def test_bad_connectivity_and_signs_name_the_projection_and_the_fix(kwargs, match):
    with pytest.raises(GLEConfigError, match=match):
        GLENetwork(3, LAYERS, dt=DT, device='numpy', **kwargs)


def test_drawn_weights_take_the_sign_and_the_synapses():
    net = GLENetwork(3, LAYERS, dt=DT, device='numpy', seed=0, connect=CONNECT, signs=SIGNS)
    w = net.weights
    assert np.all(w[1] >= 0) and np.all(w[2] <= 0) and np.all(np.diag(w[2][:, :3]) == 0) and np.any(w[0] < 0)


@pytest.mark.parametrize('batch', [1, 3])
def test_sparse_weights_are_held_per_synapse(batch):
    """One weight (and optimiser state) per synapse, in a group of that size (CSR order); the drawn weights are
    those of the all-to-all network at the synapses."""
    full = GLENetwork(3, LAYERS, dt=DT, device='numpy', seed=0).weights
    net = GLENetwork(3, LAYERS, dt=DT, device='numpy', seed=0, connect=CONNECT, batch=batch,
                     learning=Learning(Adam(lr=1e-3)))
    state = net.get_state()
    for k in (1, 2):
        pre, post = net.connectivity[k]
        holder = net.weight_groups[k].name
        assert state[f'{holder}.w'].shape == state[f'{holder}.m_w'].shape == (len(pre),)
        expected = np.zeros_like(full[k])
        expected[post, pre] = full[k][post, pre]
        np.testing.assert_array_equal(net.weights[k], expected)


def test_sparse_draw_by_blocks_of_rows_equals_the_whole_draw():
    shapes = [(7, 5), (6, 7), (4, 6)]
    whole = init_weights([5, 7, 6, 4], seed=3)
    pre, post = np.nonzero(np.random.default_rng(0).random((7, 6)) < 0.4)       # (pre, post) of the second
    order = np.lexsort((pre, post))
    synapses = (pre[order], post[order])
    for block in (1, 10, 2 ** 20):       # one row, two rows, all rows at a time
        drawn = draw_weights(shapes, [None, synapses, None], seed=3, block=block)
        np.testing.assert_array_equal(drawn[1], whole[1][synapses[1], synapses[0]])
        np.testing.assert_array_equal(drawn[2], whole[2])


@pytest.mark.parametrize('device, batch, feedback', [
    ('numpy', 2, 'random'), pytest.param('cpp_standalone', 1, 'symmetric', marks=pytest.mark.standalone)])
def test_csr_products_equal_the_mirror_with_learning_on_off_on(device, batch, feedback, tmp_path):
    """Sparse projections are CSR products in the generated code (gle_brian.sparse; the C++ calls them, no Brian2
    Synapses): every variable, W, b and tau_m equal the mirror to 1e-12 with learning on, off (the weights stay,
    as recorded) and on again; the state saved after them restores the next run bit for bit. (Batch 3 with random
    feedback on cpp_standalone: tests/test_graph.py.)"""
    learning = Learning(Adam(lr=0.02), tau_m=True, tau_m_min=0.05 * ms)
    kwargs = dict(dt=DT, loss='mse', beta=0.5, batch=batch, learning=learning)
    connect = [dict(p=0.6), dict(p=0.5), 'i != j']
    net = GLENetwork(3, LAYERS, device=device, seed=5, connect=connect, signs=SIGNS, feedback=feedback,
                     record=['u', 'u_breve', 'r', 'r_prime', 'v', 'err', 'I_basal', 'I_apical', 'w'],
                     directory=str(tmp_path / 'project'), **kwargs)
    assert [p.kind for p in net.projections] == ['csr'] * 3
    synapses = net.connectivity
    feedback_matrices = None if feedback == 'symmetric' else [sparse(b, s)
                                                              for b, s in zip(net.feedback_weights, synapses)]
    ref = ReferenceNetwork(3, LAYERS, [sparse(w, s) for w, s in zip(net.weights, synapses)], biases=net.biases,
                           feedback=feedback_matrices, signs=SIGNS, **kwargs)
    rng = np.random.default_rng(2)
    inputs = [(3 * rng.normal(size=(60, batch, 3)), rng.normal(size=(60, batch, 3))) for _ in range(4)]
    for (x, y), learn in zip(inputs, (True, False, True)):
        before = net.weights
        net.run(x, y, learn=learn)
        assert_equals_mirror(net, ref, ref.run(x, y, learn=learn), atol=1e-12, tau_m=True)
        recorded = net.trace('w', 1)
        assert recorded.shape[-1] == len(synapses[1][0])
        if not learn:
            assert all(np.array_equal(w0, w) for w0, w in zip(before, net.weights)) and np.all(recorded == recorded[0])
    state = net.get_state()
    assert state['projection_1_weights.w'].shape == state['projection_1_weights.m_w'].shape == (len(synapses[1][0]),)
    x, y = inputs[3]
    net.run(x, y)
    after, weights = net.trace('r', 2), net.weights
    net.set_state(state)
    net.run(x, y)
    np.testing.assert_array_equal(net.trace('r', 2), after)
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, weights))
    if device == 'cpp_standalone':     # the generated C++ computes the products, with the CSR arrays
        sources = glob.glob(os.path.join(net.project.directory, 'code_objects', '*.cpp'))
        code = ''.join(open(path).read() for path in sources)
        for k in range(3):       # (the input receives no feedback)
            kinds = ('basal', 'gradient') + ('apical',) * (k > 0)
            assert all(f'projection_{k}_{kind}_product(' in code for kind in kinds), k
            assert f'_namespace_projection_{k}_indptr' in code
        assert not [path for path in sources if 'synapses' in os.path.basename(path)]
