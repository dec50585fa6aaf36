"""The main job of the README runs end to end, reports what it measured and shows that the network learns."""
import json

from models import demo


def test_demo_runs_end_to_end_and_learns(tmp_path):
    result = demo.main(['--device', 'numpy', '--passes', '1', '--out', str(tmp_path)])
    for figure in ('traces.png', 'learning.png'):
        assert (tmp_path / figure).stat().st_size > 10_000, figure
    assert json.loads((tmp_path / 'result.json').read_text()) == result
    assert result['max_abs_deviation_from_reference_step'] < 1e-12
    assert abs(result['phase_advance_prospective_over_membrane_rad'] - result['phase_advance_analytic_rad']) < 2e-3
    # one pass of learning takes the output's error against the teacher from 0.58 to 0.06 (this seed)
    assert result['output_rms_error_after_learning'] < 0.25 * result['output_rms_error_before_learning']
