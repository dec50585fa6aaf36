"""The check that a network equals the numpy mirror (``gle_brian.reference``) after a run."""
import numpy as np

from gle_brian.reference import VARIABLES


def assert_equals_mirror(net, ref, traces, atol, tau_m=False, variables=VARIABLES):
    """The last run's traces of every variable (of ``variables``) in every layer, the weights and biases (and
    ``tau_m``, relative) of ``net`` equal those of the mirror ``ref``, whose run returned ``traces``."""
    for name in variables:
        for l in range(len(net.layers)):
            expected = traces[name][l] if net.batch > 1 else traces[name][l][:, 0]
            np.testing.assert_allclose(net.trace(name, l), expected, rtol=0, atol=atol, err_msg=f'{name} in layer {l}')
    for k, weights in enumerate(net.weights):        # per projection (per layer in a layered network)
        expected = ref.W[k].toarray() if hasattr(ref.W[k], 'toarray') else ref.W[k]     # sparse: zeros elsewhere
        np.testing.assert_allclose(weights, expected, rtol=0, atol=atol, err_msg=f'W of projection {k}')
    for l in range(len(net.layers)):
        np.testing.assert_allclose(net.biases[l], ref.b[l], rtol=0, atol=atol)
        if tau_m:
            np.testing.assert_allclose(np.asarray(net.tau_m[l]), ref.tau_m[l], rtol=atol)
