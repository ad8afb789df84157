"""$LUMINA_RAY_LOST_S is read when a Ray stage's watch starts, and a malformed value is one line.
It was parsed at import, inside the CLI's error handling (user_errors imports contracts.ray_runtime),
so `LUMINA_RAY_LOST_S=10s lumina encode ...` turned any error, even with --local, into two
tracebacks and exit 1."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from contracts import ray_runtime as rt
from contracts.config import ConfigError


def test_a_malformed_value_does_not_break_other_errors(tmp_path):
    env = {**os.environ, "LUMINA_RAY_LOST_S": "10s", "PYTHONPATH": os.getcwd()}
    env.pop("LUMINA_TRACEBACK", None)
    done = subprocess.run([sys.executable, "-m", "flows.cli", "encode", "--home", str(tmp_path / "nothing"), "--local"],
                          capture_output=True, text=True, env=env, timeout=120)
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and lines[-1].startswith("lumina encode: error: "), done.stderr


@pytest.mark.parametrize("raw", ["10s", "-1", "inf", "nan"])
def test_lost_after_refuses_what_is_no_number_of_seconds(monkeypatch, raw):
    monkeypatch.setattr(rt, "GCS_LOST_AFTER_S", None)
    monkeypatch.setenv("LUMINA_RAY_LOST_S", raw)
    with pytest.raises(ConfigError, match="LUMINA_RAY_LOST_S"):
        rt.lost_after_s()


def test_lost_after_reads_the_variable_or_defaults_to_10(monkeypatch):
    monkeypatch.setattr(rt, "GCS_LOST_AFTER_S", None)
    monkeypatch.setenv("LUMINA_RAY_LOST_S", "2.5")
    assert rt.lost_after_s() == 2.5
    monkeypatch.setenv("LUMINA_RAY_LOST_S", "")
    assert rt.lost_after_s() == 10.0
