"""The main job of the README runs end to end and reports what it measured."""
import json

from models import demo


def test_demo_runs_end_to_end(tmp_path):
    result = demo.main(['--device', 'numpy', '--out', str(tmp_path)])
    assert (tmp_path / 'traces.png').stat().st_size > 10_000
    assert json.loads((tmp_path / 'result.json').read_text()) == result
    assert result['max_abs_deviation_from_reference_step'] < 1e-12
    assert abs(result['phase_advance_prospective_over_membrane_rad'] - result['phase_advance_analytic_rad']) < 2e-3
