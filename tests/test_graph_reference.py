"""The numpy mirror on graphs (``ReferenceGraph``): skip connections, sparse and recurrent projections, sign
constraints; its learning signal checked against analytic gradients at fixed points (docs/model.rst, check C3,
generalised to a DAG, and recurrent backpropagation for a loop)."""
import numpy as np
import pytest
import scipy.sparse
from brian2 import ms

from gle_brian import Layer, Learning, SGD
from gle_brian.reference import INPUT, ReferenceProjection, ReferenceGraph

DT = 0.01 * ms
BETA = 0.1
LR = 1.0           # one SGD step; a large step keeps the round-off of W_after - W_before small against it


def learning_step(graph, x, target):
    """The weight and bias changes of one SGD step at the graph's current state (``-LR`` times the drive)."""
    before = [w.toarray() if scipy.sparse.issparse(w) else w.copy() for w in graph.W], [b.copy() for b in graph.b]
    graph.run(x[None], target[None], learn=True)
    after = [w.toarray() if scipy.sparse.issparse(w) else w for w in graph.W], graph.b
    return [a - b for a, b in zip(after[0], before[0])], [a - b for a, b in zip(after[1], before[1])]


def static_dag(x, target, populations, projections, biases):
    """Forward pass and gradients of C = |target - y|^2 / 2 of the static network (projections in topological
    order of their ``post``, the output last): ``(dC/dW per projection, dC/db per population)``."""
    weights = [p.weights.toarray() if scipy.sparse.issparse(p.weights) else p.weights for p in projections]
    phi = {'tanh': (np.tanh, lambda a: 1 - np.tanh(a) ** 2), 'linear': (lambda a: a, np.ones_like)}
    activations, rates = {}, {INPUT: x}
    for q in range(len(populations)):
        activations[q] = biases[q] + sum(w @ rates[p.pre] for p, w in zip(projections, weights) if p.post == q)
        rates[q] = phi[populations[q].activation][0](activations[q])
    delta = {len(populations) - 1: rates[len(populations) - 1] - target}        # dC/da of the linear output
    for q in reversed(range(len(populations) - 1)):
        upstream = sum(w.T @ delta[p.post] for p, w in zip(projections, weights) if p.pre == q)
        delta[q] = phi[populations[q].activation][1](activations[q]) * upstream
    return [np.outer(delta[p.post], rates[p.pre]) for p in projections], [delta[q] for q in range(len(populations))]


def test_dag_with_skip_and_sparse_projections_learns_the_backprop_gradient():
    """Skip connections (input -> output, first -> last population) and a sparse projection: at the fixed point
    of a static input (gamma = 0) one SGD step changes every synapse by -lr * beta * dC/dW and nothing else."""
    rng = np.random.default_rng(3)
    populations = [Layer(5, 'tanh', tau_m=1 * ms, tau_r=0.1 * ms, bias=True),
                   Layer(4, 'tanh', tau_m=0.5 * ms, tau_r=0.05 * ms, bias=True),
                   Layer(2, 'linear', tau_m=1 * ms, tau_r=1 * ms, bias=True)]
    sparse = scipy.sparse.random(4, 5, density=0.5, random_state=4, format='csr', data_rvs=lambda k: rng.normal(size=k))
    projections = [ReferenceProjection(INPUT, 0, rng.normal(size=(5, 3))), ReferenceProjection(0, 1, sparse),
                   ReferenceProjection(1, 2, rng.normal(size=(2, 4))),
                   ReferenceProjection(INPUT, 2, rng.normal(size=(2, 3))),
                   ReferenceProjection(0, 2, rng.normal(size=(2, 5)))]
    biases = [rng.normal(size=layer.size) * 0.5 for layer in populations]
    x, target = rng.normal(size=3), rng.normal(size=2)
    graph = ReferenceGraph(3, populations, projections, DT, outputs=[2], biases=biases, beta=BETA,
                           learning=Learning(SGD(lr=LR)))
    graph.run(np.tile(x, (4000, 1)), np.tile(target, (4000, 1)), learn=False)
    changes_w, changes_b = learning_step(graph, x, target)
    gradients_w, gradients_b = static_dag(x, target, populations, projections, biases)
    for k, (change, gradient) in enumerate(zip(changes_w, gradients_w)):
        if k == 1:           # the sparse projection: its synapses only
            gradient = np.where(sparse.toarray() != 0, gradient, 0.0)
        np.testing.assert_allclose(change, -LR * BETA * gradient, rtol=1e-9, atol=1e-15, err_msg=f'projection {k}')
    assert np.array_equal(changes_w[1] != 0, sparse.toarray() != 0)
    for q, (change, gradient) in enumerate(zip(changes_b, gradients_b)):
        np.testing.assert_allclose(change, -LR * BETA * gradient, rtol=1e-9, atol=1e-15, err_msg=f'bias {q}')


def recurrent_network(seed=8, n=6, n_in=3, n_out=2, norm=0.4):
    """Weights of a recurrent tanh population (lateral weights of spectral norm ``norm``) with a linear read-out,
    its bias, a static input and a target: ``(recurrent, w_in, w_out, b, x, target)``."""
    rng = np.random.default_rng(seed)
    recurrent = rng.normal(size=(n, n))
    recurrent *= norm / np.linalg.norm(recurrent, 2)
    return (recurrent, rng.normal(size=(n, n_in)), rng.normal(size=(n_out, n)), rng.normal(size=n) * 0.3,
            rng.normal(size=n_in), rng.normal(size=n_out))


def recurrent_backprop(recurrent, w_in, w_out, b, x, target):
    """The fixed point ``u = W tanh(u) + W_in x + b`` (Newton's method), its rates ``r``, the output ``y = W_out r``
    and the adjoint ``lam`` of C = |target - y|^2 / 2, from ``(I - D W^T) lam = D W_out^T (y - target)``,
    ``D = diag(tanh'(u))`` (Almeida-Pineda): dC/dW = lam r^T, dC/dW_in = lam x^T, dC/db = lam."""
    n = len(b)
    u = np.zeros(n)
    for _ in range(50):
        residual = u - recurrent @ np.tanh(u) - w_in @ x - b
        u -= np.linalg.solve(np.eye(n) - recurrent * (1 - np.tanh(u) ** 2), residual)
    r, d = np.tanh(u), 1 - np.tanh(u) ** 2
    y = w_out @ r
    return r, y, np.linalg.solve(np.eye(n) - d[:, None] * recurrent.T, d * (w_out.T @ (y - target)))


def test_recurrent_population_learns_the_recurrent_backprop_gradient():
    """A recurrent LE population (lateral weights of spectral norm 0.4) read out by a linear population: at the
    fixed point the drive of the recurrent, input and read-out weights is beta times the gradient of the fixed
    point's loss, which recurrent backpropagation (Almeida-Pineda) gives by one linear adjoint solve."""
    recurrent, w_in, w_out, b, x, target = recurrent_network()
    n, n_in, n_out = len(b), len(x), len(target)
    populations = [Layer(n, 'tanh', tau_m=1 * ms, bias=True), Layer(n_out, 'linear', tau_m=1 * ms)]
    projections = [ReferenceProjection(INPUT, 0, w_in), ReferenceProjection(0, 0, recurrent),
                   ReferenceProjection(0, 1, w_out)]
    graph = ReferenceGraph(n_in, populations, projections, DT, outputs=[1], biases=[b, None], beta=BETA,
                           learning=Learning(SGD(lr=LR)))
    graph.run(np.tile(x, (6000, 1)), np.tile(target, (6000, 1)), learn=False)

    r, y, lam = recurrent_backprop(recurrent, w_in, w_out, b, x, target)
    expected = [np.outer(lam, x), np.outer(lam, r), np.outer(y - target, r)]

    np.testing.assert_allclose(graph.state['r'][0][0], r, rtol=1e-12)
    changes_w, changes_b = learning_step(graph, x, target)
    for k, (change, gradient) in enumerate(zip(changes_w, expected)):
        np.testing.assert_allclose(change, -LR * BETA * gradient, rtol=1e-8, atol=1e-15, err_msg=f'projection {k}')
    np.testing.assert_allclose(changes_b[0], -LR * BETA * lam, rtol=1e-8)


@pytest.mark.parametrize('sign', [+1, -1])
def test_sign_constraint_clips_after_every_step(sign):
    """Dale's law: a projection's weights keep their sign; those the optimiser drives across zero stay at zero."""
    rng = np.random.default_rng(2)
    w = sign * rng.uniform(0.1, 1, (3, 2))
    graph = ReferenceGraph(2, [Layer(3, 'tanh', tau_m=1 * ms), Layer(1, tau_m=1 * ms)],
                           [ReferenceProjection(INPUT, 0, w, sign=sign),
                            ReferenceProjection(0, 1, rng.normal(size=(1, 3)))],
                           DT, outputs=[0, 1], beta=1.0, learning=Learning(SGD(lr=0.5)))
    target = np.tile(np.r_[-sign * np.ones(3), 0.0], (300, 1))   # pulls the first population's rates across zero
    graph.run(rng.normal(size=(300, 2)) ** 2, target)
    assert np.all(sign * graph.W[0] >= 0) and np.any(graph.W[0] == 0)
