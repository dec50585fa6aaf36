"""LagLine (models/lagline.py), its input generator and the gle-brian command."""
import json

import numpy as np
import pytest
from brian2 import kHz, ms
from scipy.ndimage import gaussian_filter1d

from gle_brian import GLEInputError, ReferenceNetwork
from gle_brian.cli import available_models, main as cli_main
from gle_brian.data import sines, smoothed_steps
from models import lagline


def test_smoothed_steps():
    x = smoothed_steps(40 * ms, dt=0.01 * ms, batch=3, seed=0)
    assert x.shape == (4000, 3)
    assert -1 <= x.min() < -0.99 and 0.99 < x.max() <= 1
    assert abs(x.mean()) < 0.05                          # +1 for half of each 4 ms period
    assert not np.allclose(x[:, 0], x[:, 1])             # rows are shifted
    np.testing.assert_array_equal(x, smoothed_steps(40 * ms, dt=0.01 * ms, batch=3, seed=0))
    with pytest.raises(GLEInputError, match='dt='):
        smoothed_steps(40 * ms, dt=0.01)


def test_smoothed_steps_are_each_shifted_row_filtered_bit_for_bit():
    """The rows are computed from one filtered signal, rolled, with the ends and the seam of the roll filtered again:
    the same numbers as the filter of every shifted row (shifts near the ends, a window wider than a block)."""
    for duration, width, period, sigma, seed in ((40 * ms, None, None, 5, 0), (10 * ms, 0.5 * ms, 1 * ms, 2.5, 3),
                                                 (5 * ms, None, None, 30, 2)):
        dt = 0.01 * ms
        steps, width_steps = int(round(float(duration / dt))), int(round(float((width or 2 * ms) / dt)))
        signal = -np.ones(steps)
        for start in np.floor(np.linspace(0, steps, int(steps / float((period or 4 * ms) / dt)) + 1)).astype(int):
            signal[start:start + width_steps] = 1.0
        shifts = np.random.default_rng(seed).integers(0, width_steps, 7)
        expected = gaussian_filter1d(np.stack([np.roll(signal, shift) for shift in shifts]), sigma, axis=1).T
        np.testing.assert_array_equal(smoothed_steps(duration, dt, 7, width, period, sigma, seed), expected)


def test_sines():
    x = sines(10 * ms, 0.01 * ms, np.array([0.5, 2.0]) / (2 * np.pi) * kHz)      # angular 0.5, 2 rad/ms
    t = np.arange(1000) * 0.01
    np.testing.assert_allclose(x[:, 0], np.sin(0.5 * t) + np.sin(2 * t), atol=1e-12)
    with pytest.raises(GLEInputError, match='frequencies'):
        sines(10 * ms, 0.01 * ms, [0.5, 2.0])
    with pytest.raises(GLEInputError, match='must be a frequency'):
        sines(10 * ms, 0.01 * ms, [0.5, 2.0] * ms)


def test_teacher_equals_reference_step():
    x = smoothed_steps(30 * ms, dt=lagline.DT, seed=1)
    weights = [np.array([[w]]) for w in lagline.TEACHER['w']]
    reference = ReferenceNetwork(1, lagline.layers(lagline.TEACHER['tau_m']), weights, dt=lagline.DT).run(x)
    np.testing.assert_allclose(lagline.teacher_rates(x[:, 0]), reference['r'][1][:, 0, 0], rtol=0, atol=1e-13)


def test_gle_learns_and_beats_instantaneous_errors(tmp_path):
    """200 ms of training from the first step (CI size): GLE's loss falls by more than 100x and ends below BP's."""
    results = [lagline.run(variant, train=200.0, init=0.0, device='numpy') for variant in ('gle', 'bp')]
    (gle, _), (bp, _) = results
    assert gle['loss_reduction'] > 100, gle           # measured: 167x (bp: 6.6x), loss 25x below bp's
    assert gle['loss_end'] < bp['loss_end'] / 10, (gle, bp)
    assert abs(gle['w'][1] - 2) < 0.2 and gle['tau_m_ms'][1] > gle['tau_m_start_ms'][1]
    lagline.plot(results, tmp_path / 'lagline.png')
    assert (tmp_path / 'lagline.png').stat().st_size > 10000


def test_batch_of_phase_shifted_inputs():
    metrics, curves = lagline.run('gle', train=25.0, batch=4, device='numpy')
    assert metrics['batch'] == 4 and curves['r'].shape == curves['t'].shape
    assert metrics['w'] != metrics['w_start'] and metrics['loss_end'] < metrics['loss_start']


def test_cli_runs_a_model(tmp_path, capsys):
    assert {'lagline', 'demo'} <= set(available_models())
    cli_main(['lagline', '--variant', 'gle', '--train', '25', '--init', '0', '--device', 'numpy', '--out',
              str(tmp_path)])
    summary = capsys.readouterr().out
    assert summary.startswith('lagline gle (batch 1) on numpy: loss')
    metrics = json.loads((tmp_path / 'lagline_gle.json').read_text())
    assert metrics['variant'] == 'gle' and len(metrics['tau_m_ms']) == 2
    assert (tmp_path / 'lagline.png').exists()


def test_cli_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(['no_such_model'])
    assert exit_info.value.code == 2 and 'invalid choice' in capsys.readouterr().err


@pytest.mark.long
@pytest.mark.standalone
def test_full_lagline_reproduces_the_reference(tmp_path):
    """The paper's run (batch 100, 4000 ms; ~2 min): GLE recovers the teacher, BP stalls at the tau_m clamp."""
    gle, _ = lagline.run('gle', batch=100, device='cpp_standalone', directory=str(tmp_path / 'gle'))
    assert gle['loss_end'] < 1e-9 and gle['w_error'] < 3e-3 and gle['tau_m_error_ms'] < 3e-3, gle
    bp, _ = lagline.run('bp', batch=100, device='cpp_standalone', directory=str(tmp_path / 'bp'))
    assert bp['loss_end'] > 1e-3 and min(bp['tau_m_ms']) == pytest.approx(0.1), bp
