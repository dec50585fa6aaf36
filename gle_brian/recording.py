"""Electrophysiology-style recording of GLE networks: traces with units, sine protocols, spike read-outs.

:func:`record` attaches Brian2 monitors to a :class:`~gle_brian.network.GLENetwork` (before its first
run, so that standalone devices compile them in) and returns a :class:`Recording` that holds the traces
of the last run as Brian2 quantities: times in seconds, model variables in the model's arbitrary units
(dimensionless). :func:`frequency_response` measures the gain and phase of one GLE neuron with sine
inputs, to compare with :func:`transfer_function`; :func:`poisson_spikes` draws spike trains from rates.
:func:`gle_brian.io.to_nwb` writes a recording (and spikes) to an NWB file.

Example::

    >>> import numpy as np
    >>> from brian2 import ms
    >>> from gle_brian import GLENetwork, Layer
    >>> from gle_brian.recording import record
    >>> net = GLENetwork(1, [Layer(3, 'tanh', tau_m=1*ms, tau_r=0.1*ms), Layer(1, tau_m=1*ms)],
    ...                  dt=0.01*ms, device='numpy', seed=1)
    >>> rec = record(net, ['u', 'r', 'w'], layers=[0], neurons=[0, 2], dt=0.1*ms)
    >>> net.run(np.sin(np.arange(1000) * 0.01))
    >>> rec['u', 0].shape, rec.t[1]          # 100 samples of neurons 0 and 2, every 0.1 ms
    ((100, 2), 100. * usecond)
    >>> rec['w', 0].shape                    # weights onto those neurons: (samples, 2, n_pre)
    (100, 2, 1)
"""

import numpy as np
from brian2 import Hz, Quantity, second

from .checks import check_interval, check_units
from .errors import GLEConfigError
from .builder import monitor
from .network import GLENetwork
from .spec import RECORDABLE
from .neurons import DESCRIPTIONS as NEURON_DESCRIPTIONS, Layer

__all__ = ['Recording', 'record', 'WEIGHT', 'transfer_function', 'frequency_response', 'poisson_spikes']

#: name under which synaptic weights (onto the chosen neurons) are recorded
WEIGHT = 'w'

#: what each recordable variable is, for figure labels and NWB descriptions (from the neuron equations)
DESCRIPTIONS = {**{name: NEURON_DESCRIPTIONS[name] for name in RECORDABLE if name != WEIGHT},
                WEIGHT: 'synaptic weights W[post, pre] onto the recorded neurons'}


class Recording:
    """Traces of the last run of a network, indexed by ``(variable, layer)``.

    Attributes
    ----------
    t : Quantity
        Sample times of the last run (seconds; standalone runs start at 0).
    dt : Quantity
        Sampling interval.
    neurons : dict
        ``layer -> indices`` of the recorded neurons.
    variables : tuple of str
        The recorded variables (``'w'`` are the weights onto the recorded neurons).

    ``rec[variable, layer]`` is a Quantity of shape ``(samples, len(neurons[layer]))``, or
    ``(samples, len(neurons[layer]), n_pre)`` for the weights. Model variables are dimensionless (the
    model's arbitrary units); time constants carry units of time.
    """

    def __init__(self, net, variables, neurons, dt, monitors):
        self.net = net
        self.variables = tuple(variables)
        self.neurons = neurons
        self.dt = dt
        self._monitors = monitors          # {layer: {variable: monitor}}

    @property
    def layers(self):
        """The recorded layers, in order."""
        return sorted(self.neurons)

    @property
    def t(self):
        with self.net.runner.active():
            return self._monitors[self.layers[0]][self.variables[0]].times()

    def __getitem__(self, key):
        variable, layer = key
        layer = self.net.check_layer(layer)
        if variable not in self.variables or layer not in self.neurons:
            raise GLEConfigError(f'{variable!r} of layer {layer} was not recorded; recorded are {list(self.variables)} '
                                 f'of layers {self.layers}: pass them to record(...) before the run.')
        with self.net.runner.active():           # a clear error if a newer standalone network closed this one
            values = Quantity(self._monitors[layer][variable].values(variable), copy=True)   # outlives the network
        if variable == WEIGHT:
            return values.reshape(len(values), len(self.neurons[layer]), self.net.sizes[layer])
        return values

    def items(self):
        """``((variable, layer), values)`` for everything recorded."""
        return [((variable, layer), self[variable, layer]) for layer in self.layers for variable in self.variables]


def record(net, variables=('u', 'u_breve', 'r', 'err'), layers=None, neurons=None, dt=None):
    """Record ``variables`` of chosen ``neurons`` in chosen ``layers`` every ``dt``.

    Call it before the first ``net.run`` (standalone devices compile the monitors into the project);
    afterwards the returned :class:`Recording` holds the traces of the latest run.

    Parameters
    ----------
    net : GLENetwork
        The network (any device).
    variables : sequence of str
        Any of :data:`gle_brian.network.RECORDABLE`: the neurons' state (``'u'``, ``'u_breve'``, ``'r'``,
        ``'err'``, ...), ``'b'``, ``'tau_m'`` and ``'w'``, the weights of the synapses onto the recorded neurons.
    layers : int, sequence of int or None
        Layer indices (0 = first hidden layer, -1 = output); ``None`` records every layer.
    neurons : sequence of int, dict or None
        Neuron indices, the same for every layer; ``None`` records all. A dict ``{layer: indices or None}``
        chooses layers and neurons at once (then leave ``layers`` out).
    dt : Quantity or None
        Sampling interval, a multiple of ``net.dt`` (default: every step).

    Example::

        >>> rec = record(net, ['u', 'r'], layers=-1, dt=0.1*ms)               # doctest: +SKIP
    """
    if not isinstance(net, GLENetwork):
        raise GLEConfigError(f'net={net!r} is not a GLENetwork; build one with GLENetwork(...) first.')
    if net.runner.compiled:
        raise GLEConfigError(f'this {net.device} network was already compiled by its first run; call record(...) '
                             'before the first net.run, or build a new network.')
    if isinstance(variables, str):
        variables = [variables]
    known = tuple(dict.fromkeys(RECORDABLE + (WEIGHT,)))
    unknown = [v for v in variables if v not in known]
    if unknown or not variables:
        raise GLEConfigError(f'variables={list(variables)!r}: choose one or more of {list(known)}.')
    dt = check_interval(dt, net.dt)
    if isinstance(neurons, dict):
        if layers is not None:
            raise GLEConfigError('give the layers either as layers=... or as the keys of neurons={layer: indices}, '
                                 'not both.')
        chosen = {net.check_layer(layer): indices for layer, indices in neurons.items()}
    else:
        layers = range(len(net.layers)) if layers is None else np.atleast_1d(layers).tolist()
        chosen = {net.check_layer(layer): neurons for layer in layers}
    if not chosen:
        raise GLEConfigError(f'layers={layers!r}, neurons={neurons!r} select no layer; give e.g. layers=[0, -1].')
    chosen = {layer: _neuron_indices(net, layer, indices) for layer, indices in sorted(chosen.items())}

    monitors = {}
    for layer, indices in chosen.items():
        sources = {}
        for variable in variables:
            if variable == WEIGHT:
                # W[post, pre] of the chosen neurons, in the order (post, pre)
                k = net.incoming(layer)
                if net.connectivity[k] is not None:
                    raise GLEConfigError(f"record(net, [..., 'w'], layers={layer}): the projection into layer {layer} "
                                         "is sparse, whose weights are held per synapse; record them with "
                                         "GLENetwork(..., record=['w']) (one column per synapse) or read net.weights "
                                         "between runs.")
                sources[net.weight_groups[k]] = ([WEIGHT], net.weight_positions[k][indices].ravel())
                continue
            group = next((g for g in net.layer_groups(layer) if variable in g.variables), None)
            if group is None:
                raise GLEConfigError(f'layer {layer} has no {variable!r} (v exists only with prospective_errors=True); '
                                     'drop it from variables or change the Layer.')
            sources.setdefault(group, ([], indices))[0].append(variable)
        monitors[layer] = {}
        with net.runner.active():                # the monitors belong to the network's device
            for source, (names, index) in sources.items():
                monitors[layer].update(dict.fromkeys(names, _monitor(net, source, names, index, dt)))
    return Recording(net, variables, chosen, dt, monitors)


def _monitor(net, source, variables, indices, dt):
    # numbered, not Brian2's name*: a network built again the same way generates the same code
    prefix = f'{source.name}_recording_'
    recorder = monitor(source, variables, indices, dt, prefix + str(sum(o.name.startswith(prefix)
                                                                         for o in net.network.objects)))
    net.network.add(recorder)
    return recorder


def _neuron_indices(net, layer, indices):
    size = net.layers[layer].size
    if indices is None:
        return np.arange(size)
    indices = np.atleast_1d(np.asarray(indices))
    if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer) or len(indices) == 0 \
            or indices.min() < -size or indices.max() >= size:
        raise GLEConfigError(f'neurons={indices.tolist()!r} for layer {layer}: give indices between 0 and {size - 1}.')
    return indices % size


# --- Sine-wave protocol ----------------------------------------------------------------------------

#: the two signal paths through a GLE neuron: forward input -> u_breve (H), error -> prospective error (G)
PATHS = ('forward', 'error')


def transfer_function(frequencies, tau_m, tau_r, path='forward', dt=None):
    """The analytic transfer function of one GLE neuron at ``frequencies`` (complex gain).

    ``path='forward'``: basal input to ``u_breve``, ``H(s) = (1 + s tau_r)/(1 + s tau_m)``;
    ``path='error'``: instantaneous error to prospective error, ``G = 1/H``. With ``dt`` the exact
    transfer function of the discrete Euler step (docs/model.rst, section 'The discrete step') instead.

    Example::

        >>> abs(transfer_function(1/(2*np.pi*ms), 1*ms, 0.1*ms))              # doctest: +SKIP
        0.7106...
    """
    if path not in PATHS:
        raise GLEConfigError(f'path={path!r} is not known; use one of {list(PATHS)}.')
    check_units(frequencies, Hz, 'frequencies', '[10, 100]*Hz')
    omega = 2 * np.pi * np.asarray(frequencies / Hz, dtype=float)
    tau_m, tau_r = float(tau_m), float(tau_r)
    if path == 'error':
        tau_m, tau_r = tau_r, tau_m       # the time constants swap roles on the way down
    if dt is None:
        return (1 + 1j * omega * tau_r) / (1 + 1j * omega * tau_m)
    a, k = float(dt) / tau_m, tau_r / tau_m
    z_inv = np.exp(-1j * omega * float(dt))
    return (k - (k - a) * z_inv) / (1 - (1 - a) * z_inv)


def frequency_response(tau_m, tau_r, frequencies, dt, path='forward', cycles=3, device='numpy'):
    """Measure the complex gain of one GLE neuron with sine inputs, one frequency per neuron.

    A linear neuron is driven with ``sin(2 pi f t)``: on the basal dendrite (``path='forward'``,
    recording ``u_breve``) or on the apical dendrite of an output neuron through the error
    ``beta (target - r)`` with ``beta = 1`` (``path='error'``, recording ``err``). After the transient
    (20 time constants), amplitude and phase are fitted by least squares over ``cycles`` periods of the
    slowest frequency. Returns the gain ``A exp(i phase)`` per frequency, to compare with
    :func:`transfer_function` (``dt`` given for the discrete scheme).

    Example::

        >>> gains = frequency_response(1*ms, 0.1*ms, [50, 159, 1000]*Hz, dt=0.01*ms)  # doctest: +SKIP
    """
    if path not in PATHS:
        raise GLEConfigError(f'path={path!r} is not known; use one of {list(PATHS)}.')
    check_units(frequencies, Hz, 'frequencies', '[10, 100]*Hz')
    frequencies = np.atleast_1d(np.asarray(frequencies / Hz, dtype=float))
    if np.any(frequencies <= 0) or np.any(frequencies * float(dt) >= 0.5):
        raise GLEConfigError(f'frequencies must lie between 0 and the Nyquist frequency 1/(2 dt) = '
                             f'{0.5 / float(dt):g} Hz; got {frequencies.tolist()} Hz.')
    n = len(frequencies)
    settle = 20 * max(float(tau_m), float(tau_r))
    steps = int(np.ceil((settle + cycles / frequencies.min()) / float(dt)))
    times = np.arange(steps) * float(dt)
    sines = np.sin(2 * np.pi * frequencies * times[:, None])
    forward = path == 'forward'
    net = GLENetwork(n, [Layer(n, 'linear', tau_m=tau_m, tau_r=tau_r)], dt=dt, device=device,
                     loss=None if forward else 'mse', beta=1.0, weights=[np.eye(n) if forward else np.zeros((n, n))])
    variable = 'u_breve' if forward else 'err'
    rec = record(net, [variable])
    if forward:
        net.run(sines)
    else:
        net.run(np.zeros_like(sines), target=sines)
    t = np.asarray(rec.t / second)
    fit = t >= settle
    response = np.asarray(rec[variable, 0])[fit]
    gains = np.empty(n, dtype=complex)
    for k, f in enumerate(frequencies):
        basis = np.column_stack([np.sin(2 * np.pi * f * t[fit]), np.cos(2 * np.pi * f * t[fit])])
        (a, b), *_ = np.linalg.lstsq(basis, response[:, k], rcond=None)
        gains[k] = a + 1j * b          # A sin(wt + phase) = A cos(phase) sin(wt) + A sin(phase) cos(wt)
    return gains


# --- Spiking read-out ------------------------------------------------------------------------------

def poisson_spikes(rates, dt, rate_scale=100 * Hz, trials=1, seed=None):
    """Poisson spike trains drawn from rates, as an optional spiking read-out of a GLE layer.

    Parameters
    ----------
    rates : array (samples, neurons)
        Dimensionless rates, e.g. ``rec['r', -1]``; negative values count as zero.
    dt : Quantity
        Sampling interval of ``rates`` (e.g. ``rec.dt``).
    rate_scale : Quantity
        Firing rate of a unit rate (Hz).
    trials : int
        Independent trials per neuron; spike train ``k`` belongs to neuron ``k % neurons``.
    seed : int or None
        Seed of the random generator (same seed, same spikes).

    Returns ``(t, i)``: spike times (Quantity, seconds from the first sample) and spike-train indices.

    Example::

        >>> t, i = poisson_spikes(rec['r', 0], rec.dt, rate_scale=200*Hz, trials=20, seed=0)  # doctest: +SKIP
    """
    check_units(rate_scale, Hz, 'rate_scale', '100*Hz')
    rates = np.asarray(rates, dtype=float)
    rates = rates[:, None] if rates.ndim == 1 else rates
    probability = np.clip(rates, 0, None) * float(rate_scale * dt)
    if probability.max(initial=0) > 1:
        raise GLEConfigError(f'rate_scale={rate_scale} times the largest rate {rates.max():g} exceeds one spike per '
                             f'sample (dt={dt}); lower rate_scale or record with a smaller dt.')
    rng = np.random.default_rng(seed)
    spikes = rng.random((trials,) + probability.shape) < probability
    trial, step, neuron = np.nonzero(spikes)
    order = np.argsort(step, kind='stable')
    return step[order] * dt, (trial * probability.shape[1] + neuron)[order]


# --- NWB export ------------------------------------------------------------------------------------
