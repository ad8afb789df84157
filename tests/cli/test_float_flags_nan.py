"""A float flag given NaN is refused naming the flag (`lumina sample --cfg nan`: "argument
--cfg/--cfg-scale: expected a number, got 'nan'"); the config's own check named its field,
"SampleConfig.cfg: expected a number, got nan", which no flag of the command is called."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("argv, flag", [(["sample", "--checkpoint", "x", "--prompt", "digit 3", "--cfg", "nan"], "--cfg/--cfg-scale"),
                                        (["sample", "--checkpoint", "x", "--prompt", "digit 3", "--shift", "NaN"], "--shift"),
                                        (["train", "--manifest", "m", "--lr", "nan"], "--lr")])
def test_nan_is_refused_naming_the_flag(argv, flag, tmp_path):
    r = subprocess.run([sys.executable, "-m", "flows.cli", *argv, "--home", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert f"argument {flag}: expected a number, got '" in r.stderr, r.stderr
    assert "Config." not in r.stderr


def test_a_float_flag_still_takes_numbers_and_none():
    import argparse

    from flows.cli_config import _or_none, number

    assert number("1.5") == 1.5 and number("inf") == float("inf")  # ranges are the config's to check
    with pytest.raises(argparse.ArgumentTypeError):
        _or_none(float)("nan")
