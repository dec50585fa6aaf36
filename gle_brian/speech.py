"""Google Speech Commands v2, 12 classes: the data set's folder, the published features and augmentation.

The folder is ``speech_commands_v0.02`` as published: one folder of 16 kHz mono WAV clips per word,
``validation_list.txt`` and ``testing_list.txt`` (the standard split; every other clip is for training) and
``_background_noise_/`` (long noise recordings). The 12 classes (:data:`CLASSES`) are the ten command words,
``unknown`` (the other words) and ``silence`` (one-second cuts of the noise recordings), as in TensorFlow's
speech-commands example that the published code follows: in the validation and test splits, unknown is a fixed
random 10 % (of the command words' clips) of the other words' clips and silence as many fixed cuts; in training
the unknown class draws from all other words' clips and silence cuts are drawn anew every epoch.

Features (:func:`log_mel`): the mel power spectrogram of a 16,000-sample clip (``n_fft`` 1024, hop 400, 32 mel
bands, periodic Hann window, centred with reflect padding, HTK mel scale, filters not normalised), then
``log2(mel + 1e-9)``, normalised per sample to zero mean and unit standard deviation: 41 frames of 32 values.
:func:`frames_to_steps` holds each frame for 20 steps, interpolating linearly towards the next: 820 steps.

Training (:class:`SpeechCommandsData`, a :class:`~gle_brian.data.TimeSeriesData`): class-balanced (sample ``k``
of an epoch is of class ``k % 12``, its clip drawn from that class: the published code's weighted random sampler
gives every class the same share in expectation, this gives it exactly), augmented as published: with
probability 0.8 background noise at an SNR drawn from {20, 10, 3} dB, then a random time shift of up to +-1600
samples, padded or cut to 16,000 samples. Every draw comes from a generator seeded by (seed, epoch, sample), so
an epoch is the same after a resume. Validation and test features are cached on disk (:func:`cached_features`).

Example::

    >>> data = SpeechCommands('speech_commands_v0.02')                  # doctest: +SKIP
    >>> train = SpeechCommandsData(data, 'training', seed=12)            # doctest: +SKIP
    >>> x, y = train.batch([0, 1, 2])        # x: (820 steps, 3 samples, 32 channels)   # doctest: +SKIP
"""
import hashlib
import json
import os

import numpy as np

from .data import TimeSeriesData
from .errors import GLEInputError
from .results import save_npz

__all__ = ['WORDS', 'CLASSES', 'SpeechCommands', 'SpeechCommandsData', 'log_mel', 'mel_filterbank',
           'frames_to_steps', 'cached_features', 'FEATURES']

WORDS = ('yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go')
CLASSES = WORDS + ('unknown', 'silence')
NOISE = '_background_noise_'
LISTS = {'validation': 'validation_list.txt', 'testing': 'testing_list.txt'}
SPLITS = ('training', 'validation', 'testing')

#: the published feature parameters (a cache key changes with any of them)
FEATURES = dict(sample_rate=16000, clip=16000, n_fft=1024, hop=400, n_mels=32, log_floor=1e-9, hold=20)
#: the published augmentation
AUGMENTATION = dict(noise_probability=0.8, snr_db=(20.0, 10.0, 3.0), shift=1600)


def mel_filterbank(sample_rate=16000, n_fft=1024, n_mels=32, fmin=0.0, fmax=None):
    """Triangular filters on the HTK mel scale (``mel = 2595 log10(1 + f/700)``), not normalised, shape
    ``(n_mels, n_fft//2 + 1)``: filter ``m`` rises from mel point ``m`` to ``m + 1`` and falls to ``m + 2`` of
    ``n_mels + 2`` points equally spaced in mel from ``fmin`` to ``fmax`` (default: half the sample rate)."""
    fmax = sample_rate / 2 if fmax is None else fmax
    mels = np.linspace(2595 * np.log10(1 + fmin / 700), 2595 * np.log10(1 + fmax / 700), n_mels + 2)
    edges = 700 * (10 ** (mels / 2595) - 1)
    frequencies = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    rising = (frequencies[None] - edges[:-2, None]) / np.diff(edges)[:-1, None]
    falling = (edges[2:, None] - frequencies[None]) / np.diff(edges)[1:, None]
    return np.maximum(0, np.minimum(rising, falling))


def log_mel(wave, sample_rate=16000):
    """The published features of one clip of ``FEATURES['clip']`` samples: an array ``(32, 41)``, normalised to zero
    mean and unit standard deviation (module text)."""
    f = FEATURES
    wave = np.asarray(wave, dtype=float)
    if wave.shape != (f['clip'],) or sample_rate != f['sample_rate']:
        raise GLEInputError(f'log_mel takes one clip of {f["clip"]} samples at {f["sample_rate"]} Hz, not shape '
                            f'{wave.shape} at {sample_rate} Hz; pad or cut it (SpeechCommands.clip does).')
    padded = np.pad(wave, f['n_fft'] // 2, mode='reflect')
    count = 1 + (len(padded) - f['n_fft']) // f['hop']
    frames = np.lib.stride_tricks.sliding_window_view(padded, f['n_fft'])[::f['hop']][:count]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(f['n_fft']) / f['n_fft'])          # periodic Hann
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    mel = np.log2(_filterbank() @ power.T + f['log_floor'])
    return (mel - mel.mean()) / mel.std()


_FILTERBANK = {}


def _filterbank():
    key = (FEATURES['sample_rate'], FEATURES['n_fft'], FEATURES['n_mels'])
    if key not in _FILTERBANK:
        _FILTERBANK[key] = mel_filterbank(*key)
    return _FILTERBANK[key]


def frames_to_steps(features, hold=FEATURES['hold']):
    """``features`` ``(bands, frames)`` as network input ``(frames*hold, bands)``: frame ``k`` at step
    ``k*hold``, linear interpolation towards frame ``k + 1`` over the next ``hold`` steps (the last frame held)."""
    features = np.asarray(features, dtype=float)
    frames = features.shape[1]
    position = np.arange(frames * hold) / hold
    k = np.minimum(position.astype(int), frames - 1)
    fraction = (position - k)[:, None]
    return features[:, k].T * (1 - fraction) + features[:, np.minimum(k + 1, frames - 1)].T * fraction


class SpeechCommands:
    """The clips of a ``speech_commands_v0.02`` folder, split and labelled (module text).

    ``clips[split]``: ``(path, label)`` of every word clip of ``split`` (``'training'``, ``'validation'``,
    ``'testing'``), sorted by path; ``noises``: the background-noise recordings (paths).
    """

    def __init__(self, root):
        self.root = os.fspath(root)
        if not os.path.isdir(self.root):
            raise GLEInputError(f'{self.root} is not a folder; give the speech_commands_v0.02 folder (it has one '
                                'folder per word, validation_list.txt and testing_list.txt).')
        lists = {}
        for split, name in LISTS.items():
            path = os.path.join(self.root, name)
            if not os.path.isfile(path):
                raise GLEInputError(f'{path} is missing: {self.root} is not the speech_commands_v0.02 folder (or it is '
                                    'incomplete); download and unpack the data set again.')
            with open(path) as f:
                lists[split] = {line.strip() for line in f if line.strip()}
        folder = os.path.join(self.root, NOISE)
        self.noises = sorted(os.path.join(folder, name) for name in os.listdir(folder)
                             if name.endswith('.wav')) if os.path.isdir(folder) else []
        if not self.noises:
            raise GLEInputError(f'{folder} has no .wav files: the silence class and the augmentation are cut from '
                                'them; unpack the data set whole.')
        words = sorted(name for name in os.listdir(self.root)
                       if os.path.isdir(os.path.join(self.root, name)) and name != NOISE)
        missing = [word for word in WORDS if word not in words]
        if missing:
            raise GLEInputError(f'{self.root} has no folder for {missing}; it is not the speech_commands_v0.02 folder.')
        self.clips = {split: [] for split in SPLITS}
        for word in words:
            label = WORDS.index(word) if word in WORDS else CLASSES.index('unknown')
            for name in sorted(os.listdir(os.path.join(self.root, word))):
                if name.endswith('.wav'):
                    relative = f'{word}/{name}'
                    split = next((s for s, names in lists.items() if relative in names), 'training')
                    self.clips[split].append((os.path.join(self.root, word, name), label))
        self._noise = {}

    def read(self, path):
        """The samples of one WAV file as floats in [-1, 1] (16 kHz mono), with a clear error naming the file."""
        from scipy.io import wavfile
        try:
            rate, samples = wavfile.read(path)
        except (OSError, ValueError) as error:
            raise GLEInputError(f'{path} is not a readable WAV file ({error}); replace it from the data set.') from None
        if rate != FEATURES['sample_rate'] or samples.ndim != 1:
            raise GLEInputError(f'{path} is sampled at {rate} Hz with {1 if samples.ndim == 1 else samples.shape[1]} '
                                f'channels; the data set has {FEATURES["sample_rate"]} Hz mono clips.')
        if samples.dtype.kind == 'i':
            return samples / float(np.iinfo(samples.dtype).max + 1)
        return samples.astype(float)

    def noise(self, index):
        """Background-noise recording ``index`` (read once)."""
        if index not in self._noise:
            self._noise[index] = self.read(self.noises[index])
        return self._noise[index]

    def silence_count(self, split):
        """Silence clips of ``split``: 10 % of its command words' clips (rounded up)."""
        return int(np.ceil(0.1 * sum(label < len(WORDS) for _, label in self.clips[split])))

    def evaluation_clips(self, split):
        """The clips of a validation or test split: every command word's, and a fixed random 10 % (of those) of the
        other words' (seeded by the split's name)."""
        clips = self.clips[split]
        words = [clip for clip in clips if clip[1] < len(WORDS)]
        unknown = [clip for clip in clips if clip[1] >= len(WORDS)]
        rng = np.random.default_rng(list(split.encode()))
        keep = np.sort(rng.permutation(len(unknown))[:self.silence_count(split)])
        return words + [unknown[k] for k in keep]

    def silence(self, rng):
        """A one-second cut of a noise recording, at a random place, scaled by a random volume in [0, 1)."""
        noise = self.noise(int(rng.integers(len(self.noises))))
        start = int(rng.integers(max(1, len(noise) - FEATURES['clip'])))
        return clip(noise[start:start + FEATURES['clip']]) * rng.uniform()

    def augment(self, wave, rng):
        """The published training augmentation of one clip (module text): noise, then the shift."""
        a = AUGMENTATION
        wave = clip(wave)
        if rng.uniform() < a['noise_probability']:
            noise = self.silence(rng)
            snr = float(rng.choice(a['snr_db']))
            signal_power, noise_power = np.mean(wave ** 2), np.mean(noise ** 2)
            if noise_power > 0 and signal_power > 0:
                wave = wave + noise * np.sqrt(signal_power / (noise_power * 10 ** (snr / 10)))
        shift = int(rng.integers(-a['shift'], a['shift'] + 1))
        wave = np.roll(wave, shift)
        if shift > 0:                      # the samples shifted in are silence
            wave[:shift] = 0
        elif shift < 0:
            wave[shift:] = 0
        return wave


def clip(wave):
    """``wave`` padded with zeros or cut to ``FEATURES['clip']`` samples."""
    n = FEATURES['clip']
    return np.pad(wave[:n], (0, max(0, n - len(wave))))


class SpeechCommandsData(TimeSeriesData):
    """One split of :class:`SpeechCommands` as network input: ``(820 steps, 32 channels)`` per sample, 12 classes.

    ``'training'``: class-balanced and augmented (module text), ``epoch`` (set by the training loop's
    ``on_epoch``) and ``seed`` fix every draw; ``len`` is the number of training clips plus the silence clips.
    ``'validation'``, ``'testing'``: the clips in order, then the fixed silence cuts, features from
    :func:`cached_features` (in ``cache``, a folder) when given.
    """

    def __init__(self, data, split, seed=0, cache=None, progress=False):
        if split not in SPLITS:
            raise GLEInputError(f'split={split!r}: give one of {SPLITS}.')
        self.data, self.split, self.seed, self.epoch = data, split, int(seed), 1
        self.classes = len(CLASSES)
        clips = data.clips[split] if split == 'training' else data.evaluation_clips(split)
        silence = data.silence_count(split)
        self.y = np.array([label for _, label in clips] + [CLASSES.index('silence')] * silence, dtype=int)
        if split == 'training':
            self.by_class = [np.flatnonzero(self.y == k) for k in range(self.classes)]
            self.y = np.arange(len(self.y)) % self.classes          # slot k is of class k % 12
        self.features = None
        if split != 'training':
            self.features = cached_features(data, split, cache, progress) if cache else \
                np.stack([log_mel(wave) for wave in _clean_waves(data, split)])

    @property
    def steps(self):
        return FEATURES['hold'] * (1 + FEATURES['clip'] // FEATURES['hop'])

    @property
    def channels(self):
        return FEATURES['n_mels']

    def batch(self, indices):
        """Input ``(steps, len(indices), 32)`` and labels of the samples ``indices``."""
        indices = np.asarray(indices, dtype=int)
        features = self.features[indices] if self.features is not None else \
            np.stack([self._training_features(k) for k in indices])
        return np.stack([frames_to_steps(f) for f in features], axis=1), self.y[indices]

    def _training_features(self, k):
        rng = np.random.default_rng([self.seed, self.epoch, int(k)])
        label = self.y[k]
        members = self.by_class[label]
        if label == CLASSES.index('silence') or not len(members):
            return log_mel(self.data.silence(rng))
        index = int(members[rng.integers(len(members))])
        path = self.data.clips['training'][index][0]
        return log_mel(self.data.augment(self.data.read(path), rng))


def _clean_waves(data, split):
    """The clips of an evaluation split, then its fixed silence cuts (seeded by the split's name)."""
    for path, _ in data.evaluation_clips(split):
        yield clip(data.read(path))
    rng = np.random.default_rng(list(split.encode()) + [1])
    for _ in range(data.silence_count(split)):
        yield data.silence(rng)


def cached_features(data, split, folder, progress=True):
    """The features ``(clips, 32, 41)`` of an evaluation split, from ``folder`` when computed before with the same
    feature parameters and files, else computed (with a progress bar) and written there atomically."""
    files = [(os.path.relpath(path, data.root), os.path.getsize(path)) for path, _ in data.evaluation_clips(split)]
    key = hashlib.sha1(json.dumps([FEATURES, split, files, [os.path.basename(n) for n in data.noises]],
                                  sort_keys=True).encode()).hexdigest()[:16]
    path = os.path.join(folder, f'gsc_{split}_{key}.npz')
    if os.path.exists(path):
        try:
            with np.load(path, allow_pickle=False) as f:
                return f['features']
        except (OSError, ValueError, KeyError):
            pass                           # a damaged cache: computed again
    from tqdm.auto import tqdm
    waves = _clean_waves(data, split)
    total = len(data.evaluation_clips(split)) + data.silence_count(split)
    features = np.stack([log_mel(wave) for wave in tqdm(waves, total=total, desc=f'{split} features',
                                                        disable=not progress)])
    save_npz(path, features=features)
    return features
