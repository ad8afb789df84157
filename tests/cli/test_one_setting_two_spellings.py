"""`lumina sample --prompt "digit 7" --text "digit 3"` (speech's name for --prompt) or `--frames 2
--views 3` (multi-view's for --frames) kept whichever came last, silently: the sample was made for
the other value than the user may have meant (helper Y, session 53). Two values for one setting are
refused in one line, in either order; the same value twice, or one flag repeated, is as before."""

from __future__ import annotations

import argparse

import pytest

from evaluation.config import SampleConfig
from evaluation.sample_flags import declared_sample_flags
from flows.cli_config import add_config_args, add_modality_args


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lumina sample")
    add_config_args(p, SampleConfig, skip=("cfg", "extrapolation"))
    add_modality_args(p, SampleConfig, {m: (s.options, s.aliases) for m, s in declared_sample_flags().items()})
    return p


@pytest.mark.parametrize("argv", [["--prompt", "digit 7", "--text", "digit 3"], ["--text", "digit 3", "--prompt", "digit 7"],
                                  ["--frames", "2", "--views", "3"], ["--views", "3", "--frames", "2"]])
def test_two_values_for_one_setting_are_refused_in_either_order(argv, capsys):
    with pytest.raises(SystemExit) as e:
        _parser().parse_args(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "name one setting with two values: give one" in err and argv[0] in err and argv[2] in err


@pytest.mark.parametrize("argv, field, value", [(["--prompt", "digit 7", "--text", "digit 7"], "prompt", "digit 7"),
                                                (["--views", "3", "--frames", "3"], "frames", 3),
                                                (["--prompt", "a", "--prompt", "b"], "prompt", "b")])
def test_one_value_or_one_flag_repeated_is_taken(argv, field, value):
    assert getattr(_parser().parse_args(argv), field) == value
