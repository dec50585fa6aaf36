"""Speech commands (gle_brian.speech, models.gsc) on a small data set written here in the speech_commands_v0.02
layout: the split, the balance and the augmentation, the features against an independent computation, every
bad input, the feature cache, and a reduced network that learns above chance."""
import json
import os

import numpy as np
import pytest
from scipy.io import wavfile

from gle_brian import GLEInputError
from gle_brian import speech
from gle_brian.speech import CLASSES, WORDS, SpeechCommands, SpeechCommandsData, frames_to_steps, log_mel

RATE = 16000
OTHER_WORDS = ('cat', 'dog')
CLIPS = 6                          # per word: 1 for validation, 1 for testing, the rest for training


def tone(k, rng, length=RATE):
    """Word ``k`` of the synthetic data set: a tone of its own frequency with its octave, random onset and level."""
    t = np.arange(length) / RATE
    frequency = 180 * 1.33 ** k
    onset = rng.uniform(0.05, 0.3)
    envelope = np.clip((t - onset) / 0.05, 0, 1) * np.clip((onset + 0.6 - t) / 0.05, 0, 1)
    wave = envelope * (np.sin(2 * np.pi * frequency * t) + 0.4 * np.sin(4 * np.pi * frequency * t))
    return rng.uniform(0.2, 0.6) * wave + 0.005 * rng.normal(size=length)


def write_wav(path, wave, rate=RATE):
    wavfile.write(path, rate, np.round(np.clip(wave, -1, 1) * 32767).astype(np.int16))


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp('gsc') / 'speech_commands_v0.02'
    rng = np.random.default_rng(0)
    validation, testing = [], []
    for k, word in enumerate(WORDS + OTHER_WORDS):
        (root / word).mkdir(parents=True)
        for n in range(CLIPS):
            name = f'{k:04x}{n:04x}_nohash_0.wav'
            write_wav(root / word / name, tone(k, rng, RATE if n % 3 else RATE - 1500))   # some clips are short
            (validation if n == 0 else testing if n == 1 else []).append(f'{word}/{name}')
    (root / 'validation_list.txt').write_text('\n'.join(validation) + '\n')
    (root / 'testing_list.txt').write_text('\n'.join(testing) + '\n')
    (root / '_background_noise_').mkdir()
    write_wav(root / '_background_noise_' / 'white_noise.wav', 0.3 * rng.normal(size=3 * RATE))
    write_wav(root / '_background_noise_' / 'hum.wav', 0.3 * np.sin(2 * np.pi * 50 * np.arange(4 * RATE) / RATE))
    return root


def test_the_split_and_the_classes(dataset):
    data = SpeechCommands(dataset)
    counts = {split: len(clips) for split, clips in data.clips.items()}
    assert counts == {'training': 12 * (CLIPS - 2), 'validation': 12, 'testing': 12}
    labels = {os.path.basename(os.path.dirname(path)): label for path, label in data.clips['training']}
    assert [labels[word] for word in WORDS] == list(range(10))
    assert labels['cat'] == labels['dog'] == CLASSES.index('unknown')
    assert data.silence_count('validation') == 1 and data.silence_count('training') == 4   # 10 % of the words' clips
    evaluation = data.evaluation_clips('validation')
    assert len(evaluation) == 11 and sum(label == CLASSES.index('unknown') for _, label in evaluation) == 1
    assert evaluation == data.evaluation_clips('validation')                      # fixed
    validation = SpeechCommandsData(data, 'validation')
    assert len(validation) == 12 and sorted(validation.y) == list(range(12))        # one clip of each class
    assert validation.steps == 820 and validation.channels == 32 and validation.classes == 12


def test_training_samples_are_class_balanced_and_drawn_from_their_class(dataset, monkeypatch):
    data = SpeechCommands(dataset)
    training = SpeechCommandsData(data, 'training', seed=3)
    assert len(training) == 48 + 4 and np.bincount(training.y, minlength=12).min() >= 4
    assert np.bincount(training.y).max() - np.bincount(training.y).min() <= 1
    read = []
    monkeypatch.setattr(data, 'read', lambda path: (read.append(path), SpeechCommands.read(data, path))[1])
    x, y = training.batch(np.arange(24))
    assert x.shape == (820, 24, 32) and list(y) == list(range(12)) * 2
    words = [os.path.basename(os.path.dirname(path)) for path in read if '_background_noise_' not in path]
    expected = [w for k in range(24) for w in ([WORDS[k % 12]] if k % 12 < 10 else [] if k % 12 == 11 else ['u'])]
    assert [w if w in WORDS else 'u' for w in words] == expected
    again, _ = training.batch(np.arange(24))
    np.testing.assert_array_equal(again, x)                   # the same epoch, seed and sample: the same draw
    training.epoch += 1
    assert not np.array_equal(training.batch(np.arange(24))[0], x)


def test_augmentation_statistics(dataset):
    """Noise with probability 0.8 at 20, 10 or 3 dB, then a shift of at most +-1600 samples (zeros shifted in)."""
    data = SpeechCommands(dataset)
    wave = 0.5 * np.ones(RATE)
    noisy, snrs, shifts = 0, [], []
    for k in range(400):
        rng = np.random.default_rng([7, k])
        augmented = data.augment(wave, rng)
        twin = np.random.default_rng([7, k])                 # the same draws, to find the shift and the noise
        has_noise = twin.uniform() < 0.8
        if has_noise:
            data.silence(twin)
            twin.choice([0, 1, 2])
        shift = int(twin.integers(-1600, 1601))
        clean = np.roll(wave, shift)
        clean[:max(shift, 0)] = 0
        clean[len(clean) + min(shift, 0):] = 0
        shifts.append(shift)
        residual = augmented - clean
        if has_noise:
            noisy += 1
            kept = clean != 0
            snrs.append(10 * np.log10(np.mean(wave ** 2) / np.mean((residual[kept]) ** 2) * kept.mean()))
        else:
            np.testing.assert_array_equal(augmented, clean)
    assert 0.74 < noisy / 400 < 0.86
    assert min(shifts) >= -1600 and max(shifts) <= 1600 and max(shifts) - min(shifts) > 2800
    assert set(np.round(snrs, 0)) <= {20.0, 10.0, 3.0} and len(set(np.round(snrs, 0))) == 3


def reference_log_mel(wave):
    """The features computed independently: a DFT as a matrix product, filters built in mel from the HTK formula
    by interpolation, and the frames cut by hand."""
    n_fft, hop, n_mels = 1024, 400, 32
    padded = np.concatenate([wave[1:n_fft // 2 + 1][::-1], wave, wave[-n_fft // 2 - 1:-1][::-1]])
    window = np.sin(np.pi * np.arange(n_fft) / n_fft) ** 2                        # periodic Hann
    dft = np.exp(-2j * np.pi * np.outer(np.arange(n_fft // 2 + 1), np.arange(n_fft)) / n_fft)
    frames = np.array([padded[k * hop:k * hop + n_fft] for k in range(1 + len(wave) // hop)])
    power = np.abs(dft @ (frames * window).T) ** 2
    hz_to_mel = lambda f: 2595 * np.log10(1 + f / 700)                            # noqa: E731
    bins = hz_to_mel(np.arange(n_fft // 2 + 1) * RATE / n_fft)
    points = np.linspace(0, hz_to_mel(RATE / 2), n_mels + 2)
    points_hz = 700 * (10 ** (points / 2595) - 1)
    filters = np.array([np.interp(np.arange(n_fft // 2 + 1) * RATE / n_fft, points_hz[m:m + 3], [0, 1, 0],
                                  left=0, right=0) for m in range(n_mels)])
    assert bins.shape == (513,)
    mel = np.log2(filters @ power + 1e-9)
    return (mel - mel.mean()) / mel.std()


def test_features_equal_an_independent_computation_and_their_published_shape(dataset):
    rng = np.random.default_rng(2)
    wave = tone(3, rng) + 0.05 * rng.normal(size=RATE)
    features = log_mel(wave)
    assert features.shape == (32, 41)
    np.testing.assert_allclose(features, reference_log_mel(wave), rtol=0, atol=1e-9)
    assert abs(features.mean()) < 1e-12 and abs(features.std() - 1) < 1e-12


def test_features_equal_librosa_where_it_is_installed():
    librosa = pytest.importorskip('librosa')          # not a dependency: checked where it is installed
    rng = np.random.default_rng(2)
    wave = tone(3, rng) + 0.05 * rng.normal(size=RATE)
    features = log_mel(wave)
    mel = librosa.feature.melspectrogram(y=wave, sr=RATE, n_fft=1024, hop_length=400, n_mels=32, htk=True, norm=None,
                                         center=True, pad_mode='reflect', power=2.0)
    expected = np.log2(mel + 1e-9)
    np.testing.assert_allclose(features, (expected - expected.mean()) / expected.std(), atol=1e-6)


def test_frames_are_held_for_20_steps_with_linear_interpolation():
    features = np.arange(2 * 41, dtype=float).reshape(2, 41)
    steps = frames_to_steps(features)
    assert steps.shape == (820, 2)
    np.testing.assert_array_equal(steps[[0, 20, 40, 800], 0], features[0, [0, 1, 2, 40]])
    np.testing.assert_allclose(steps[10], (features[:, 0] + features[:, 1]) / 2)
    np.testing.assert_array_equal(steps[819], features[:, 40])


def test_bad_folders_and_files_are_clear_errors(dataset, tmp_path):
    import shutil
    with pytest.raises(GLEInputError, match='is not a folder'):
        SpeechCommands(tmp_path / 'missing')
    broken = tmp_path / 'broken'
    shutil.copytree(dataset, broken)
    (broken / 'testing_list.txt').unlink()
    with pytest.raises(GLEInputError, match='testing_list.txt is missing'):
        SpeechCommands(broken)
    shutil.copy(dataset / 'testing_list.txt', broken)
    shutil.rmtree(broken / 'go')
    with pytest.raises(GLEInputError, match=r"has no folder for \['go'\]"):
        SpeechCommands(broken)
    shutil.copytree(dataset / 'go', broken / 'go')
    shutil.rmtree(broken / '_background_noise_')
    with pytest.raises(GLEInputError, match='_background_noise_ has no .wav files'):
        SpeechCommands(broken)
    shutil.copytree(dataset / '_background_noise_', broken / '_background_noise_')
    data = SpeechCommands(broken)
    garbage, fast, stereo = broken / 'yes' / 'garbage.wav', broken / 'yes' / 'fast.wav', broken / 'yes' / 'st.wav'
    garbage.write_bytes(b'RIFF not a wave file')
    write_wav(fast, np.zeros(8000), rate=8000)
    wavfile.write(stereo, RATE, np.zeros((RATE, 2), dtype=np.int16))
    for path, match in ((garbage, 'garbage.wav is not a readable WAV file'),
                        (fast, 'fast.wav is sampled at 8000 Hz with 1 channels'),
                        (stereo, 'st.wav is sampled at 16000 Hz with 2 channels')):
        with pytest.raises(GLEInputError, match=match):
            data.read(str(path))
    with pytest.raises(GLEInputError, match='log_mel takes one clip of 16000 samples'):
        log_mel(np.zeros(15000))


def test_evaluation_features_are_cached_under_a_key_of_their_parameters(dataset, tmp_path, monkeypatch):
    data = SpeechCommands(dataset)
    first = SpeechCommandsData(data, 'testing', cache=str(tmp_path)).features
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 1 and files[0].startswith('gsc_testing_') and first.shape == (12, 32, 41)
    monkeypatch.setattr(speech, 'log_mel', lambda wave: pytest.fail('computed again'))
    np.testing.assert_array_equal(SpeechCommandsData(data, 'testing', cache=str(tmp_path)).features, first)
    monkeypatch.undo()
    monkeypatch.setitem(speech.FEATURES, 'log_floor', 1e-6)           # another parameter: another cache file
    SpeechCommandsData(data, 'testing', cache=str(tmp_path))
    assert len(list(tmp_path.iterdir())) == 2


SMALL_NETWORK = dict(device='numpy', batch=26, seed=1, progress=False, lr=1e-2, group_size=4, depth=1)


def test_a_reduced_network_learns_above_chance(dataset, tmp_path):
    from models import gsc
    history = gsc.run(str(dataset), epochs=2, out=str(tmp_path), **SMALL_NETWORK)
    accuracies = [h['test_accuracy'] for h in history]
    assert max(accuracies[1:]) > 3 / 12, accuracies                 # chance: 1/12
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert metrics['validation_samples'] == 12 and 'test_accuracy' in metrics and (tmp_path / 'checkpoint.npz').exists()


@pytest.mark.long
def test_a_reduced_network_resumes_bit_for_bit(dataset, tmp_path):
    """Two epochs straight; and one epoch, then a resume for the second: the same history (the training draws of an
    epoch continue after a resume)."""
    from models import gsc
    history = gsc.run(str(dataset), epochs=2, out=str(tmp_path / 'straight'), **SMALL_NETWORK)
    gsc.run(str(dataset), epochs=1, out=str(tmp_path / 'stopped'), **SMALL_NETWORK)
    resumed = gsc.run(str(dataset), epochs=2, out=str(tmp_path / 'stopped'), resume=True, **SMALL_NETWORK)

    def without_times(rows):
        return [{key: value for key, value in row.items() if 'seconds' not in key} for row in rows]
    assert without_times(resumed) == without_times(history)


def test_the_command_line_refuses_a_wrong_data_folder_before_building(tmp_path, capsys):
    from models import gsc
    with pytest.raises(SystemExit) as exit:
        gsc.main(['--data', str(tmp_path / 'nothing'), '--out', str(tmp_path / 'out')])
    assert exit.value.code == 2 and f'--data: {tmp_path / "nothing"} is not a folder' in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()


def test_the_published_validation_curve_is_the_sweeps_reference():
    import pandas
    from models import gsc
    curve = pandas.read_csv(gsc.REFERENCE_CURVE)
    row = curve[curve.epoch == 419].iloc[0]
    assert row.n_seeds == 10 and abs(row['mean'] - 91.43) < 0.01 and abs(row['std'] - 0.21) < 0.01
