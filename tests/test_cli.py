"""Command-line options out of range end with argparse's usage error (exit status 2) naming the option."""
import argparse

import pytest

from gle_brian import cli
from models import demo, lagline, lagline_bptt, lagnet, mnist1d_e2e, mnist1d_lagmemory

BAD_OPTIONS = [
    (demo, '--seed', '-1'),
    (lagline, '--train', '0'),
    (lagline, '--train', '10'),          # less than one 25 ms run: no training, NaN metrics
    (lagline, '--train', 'nan'),
    (lagline, '--batch', '0'),
    (lagline, '--init', '-5'),
    (lagline, '--seed', '-3'),
    (lagline_bptt, '--train', '-5'),
    (lagnet, '--duration', '50'),        # shorter than the warm-up and one run
    (lagnet, '--seed', '-1'),
    (mnist1d_e2e, '--epochs', '-1'),
    (mnist1d_e2e, '--batch', '0'),
    (mnist1d_e2e, '--batch', '2.5'),
    (mnist1d_e2e, '--seed', '-2'),
    (mnist1d_e2e, '--train', '0'),
    (mnist1d_e2e, '--test', '0'),
    (mnist1d_lagmemory, '--epochs', '-1'),
]


@pytest.mark.parametrize('model, option, value', BAD_OPTIONS,
                         ids=[f'{m.__name__.split(".")[-1]}{o}={v}' for m, o, v in BAD_OPTIONS])
def test_out_of_range_option_exits_2_naming_it(model, option, value, capsys):
    with pytest.raises(SystemExit) as exit_:
        model.main([option, value])
    assert exit_.value.code == 2
    assert f'argument {option}: {value} is not ' in capsys.readouterr().err


def test_gle_brian_command_refuses_zero_training_time(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(['lagline', '--train', '0'])
    assert exit_.value.code == 2
    assert 'argument --train: 0 is not a number >= 25' in capsys.readouterr().err


@pytest.mark.parametrize('kind, text, value', [(cli.positive_int, '3', 3), (cli.non_negative_int, '0', 0),
                                               (cli.positive_float, '1e-3', 1e-3),
                                               (cli.ranged(float, 2.5), '2.5', 2.5)])
def test_values_in_range_are_converted(kind, text, value):
    assert kind(text) == value and type(kind(text)) is type(value)


@pytest.mark.parametrize('kind, text', [(cli.positive_int, '0'), (cli.positive_int, 'x'), (cli.non_negative_int, '-1'),
                                        (cli.positive_float, '0'), (cli.positive_float, 'inf'),
                                        (cli.ranged(float, 1.0, strict=True), '1')])
def test_values_out_of_range_are_refused(kind, text):
    with pytest.raises(argparse.ArgumentTypeError, match=f'^{text} is not an? '):
        kind(text)
