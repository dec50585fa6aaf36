"""The cortical-column model (models/column.py): it learns its lagged teacher online and writes its figures,
metrics and NWB file; the command line runs it."""
import json

import numpy as np
import pytest

from gle_brian.cli import main as cli_main
from models import column


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp('column')
    metrics, net, recording = column.run(400.0, 'numpy', seed=1)
    column.write_outputs(metrics, net, recording, str(out))
    return metrics, net, out


def test_column_learns_the_lagged_teacher(trained):
    metrics, net, _ = trained
    assert metrics['loss_reduction'] > 1.5, metrics['losses']
    assert all(np.isfinite(metrics['losses']))
    # Dale's law and the fixed loops held while it learned
    signs = {k: p.sign for k, p in enumerate(net.graph_projections) if p.sign is not None}
    assert all(np.all(signs[k] * net.weights[k] >= 0) for k in signs)


def test_column_writes_figures_metrics_and_nwb(trained):
    _, _, out = trained
    for name in ('column_learning.png', 'column_traces.png', 'column_raster.png', 'column.nwb'):
        assert (out / name).stat().st_size > 1000, name
    metrics = json.loads((out / 'column.json').read_text())
    assert metrics['synapses']['L23->L23'] == 30 * 4 - 2 * 3 and metrics['populations']['L23i'] == 8
    from pynwb import NWBHDF5IO
    with NWBHDF5IO(str(out / 'column.nwb'), 'r') as io:         # series named by population
        acquisition = io.read().acquisition
        assert {f'{v}_{p}' for v in ('u', 'r', 'err') for p in ('L4', 'L23', 'L23i', 'L5', 'out')} == set(acquisition)
        assert json.loads(acquisition['r_L5'].comments) == {'layer': 3, 'population': 'L5', 'neurons': [0, 1, 2]}


def test_column_command_line_checks_its_options(capsys):
    with pytest.raises(SystemExit) as error:
        cli_main(['column', '--duration', '10'])
    assert error.value.code == 2 and 'is not a number >= 100' in capsys.readouterr().err
