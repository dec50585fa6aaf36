"""The tutorials run top to bottom as scripts (small versions) and write their figures."""
import os
import subprocess
import sys

import pytest

TUTORIALS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tutorials')

FIGURES = {
    'a_one_neuron.py': ['a_traces.png', 'a_phase_advance.png', 'a_bode.png', 'a_raster.png'],
    'b_lagline.py': ['b_lagline.png'],
    'c_microcircuit_nwb.py': ['c_microcircuit.png', 'c_traces.png'],
    'd_cortical_column.py': ['d_weights.png', 'd_traces.png', 'd_microcircuit.png'],
    'e_brian2_script.py': ['e_brian2_script.png'],
    'f_recording_in_the_loop.py': ['f_fit.png', 'f_bode.png'],
}


def run_tutorial(script, tmp_path, *arguments):
    """Run a tutorial (small version) in ``tmp_path``; returns what it printed."""
    env = dict(os.environ, SMALL='1', GLE_TUTORIAL_FIGURES=str(tmp_path), GLE_TUTORIAL_OUTPUT=str(tmp_path),
               MPLBACKEND='Agg')
    result = subprocess.run([sys.executable, os.path.join(TUTORIALS, script), *arguments], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in FIGURES[script]:
        assert (tmp_path / name).stat().st_size > 1000, name
    return result.stdout


@pytest.mark.parametrize('script', sorted(set(FIGURES) - {'e_brian2_script.py', 'f_recording_in_the_loop.py'}))
def test_tutorial_runs(script, tmp_path):         # (e): test_brian2_script.py; (f): its own test below
    run_tutorial(script, tmp_path)


def test_recording_in_the_loop_learns_the_cell_and_writes_inspector_clean_nwb(tmp_path):
    """Tutorial (f) writes a 1 kHz NWB recording of a known teacher (w = 0.8, tau_m = 8 ms) plus noise, reads it
    at dt = 0.5 ms, learns the teacher's weight and time constant, and writes NWB that the inspector passes."""
    import re
    output = run_tutorial('f_recording_in_the_loop.py', tmp_path)
    w, tau_m, first, last, noise = map(float, re.search(
        r'learned w = ([\d.]+) .*tau_m = ([\d.]+) ms .*error ([\d.]+) in the first pass, ([\d.]+) in the last '
        r'\(the noise alone: ([\d.]+)\)', output).groups())
    assert abs(w - 0.8) < 0.03 and abs(tau_m - 8) < 0.5 and last < first / 10 and last < 2 * noise
    assert 'the NWB inspector reports 0 critical issues' in output
    assert (tmp_path / 'f_model.nwb').stat().st_size > 10_000 and (tmp_path / 'f_recording.nwb').exists()
