"""Tutorial (e), GLE objects in a plain Brian2 script, learns with Brian2's run() on runtime and on
cpp_standalone (a module of its own, so that it runs beside the other tutorials)."""
import re

import pytest

from conftest import TEST_COMPILE_FLAGS
from test_tutorials import run_tutorial


@pytest.mark.parametrize('device', ['numpy', pytest.param('cpp_standalone', marks=pytest.mark.standalone)])
def test_brian2_script_learns_with_run(device, tmp_path):
    """Tutorial (e), a plain Brian2 script with GLE objects and Brian2's run(): on runtime and as a standalone
    project built at the end, the student's mismatch falls by more than 10x, also with plasticity off."""
    # the compiled project with the test suite's flags (-O0): Brian2 reads brian_preferences in the working folder
    (tmp_path / 'brian_preferences').write_text(f'codegen.cpp.extra_compile_args_gcc = {TEST_COMPILE_FLAGS!r}\n')
    output = run_tutorial('e_brian2_script.py', tmp_path, *['--standalone'] * (device == 'cpp_standalone'))
    first, last, test = map(float, re.search(r'learning: (\S+) -> (\S+); test run \(plasticity off\): (\S+);',
                                             output).groups())
    assert last < first / 10 and test < first / 10, output
