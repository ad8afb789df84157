"""TrainConfig refuses a seed, num_threads or timesteps no run can use, in one line before any run
is registered. Before, each failed inside the run, after its folder and catalog row were made: seed
-1 as numpy's bare "expected non-negative integer" (no option named), num_threads -2 as a
RuntimeError traceback (exit 1; 0 silently meant torch's default), timesteps 'foo' as "'foo' is
not a valid TimestepSampling" (the allowed values unsaid)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from training.config import MAX_SEED, TIMESTEPS, TrainConfig

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("field,value,said", [
    ("seed", -1, f"seed must be between 0 and {MAX_SEED} (2**63 - 1); got -1"),
    ("seed", 2**63, f"seed must be between 0 and {MAX_SEED} (2**63 - 1); got {2**63}"),
    ("num_threads", 0, "num_threads must be at least 1 (or unset: torch's own); got 0"),
    ("num_threads", -2, "num_threads must be at least 1 (or unset: torch's own); got -2"),
    ("timesteps", "foo", "timesteps must be one of logit_normal, uniform; got 'foo'"),
])
def test_refused_with_the_option_named(field, value, said):
    with pytest.raises(ValueError) as e:
        TrainConfig(manifest="m", **{field: value})
    assert str(e.value) == said


def test_the_ends_of_the_ranges_pass():
    TrainConfig(manifest="m", seed=0, num_threads=1, timesteps="uniform")
    TrainConfig(manifest="m", seed=MAX_SEED, num_threads=None, timesteps="logit_normal")


def test_timesteps_are_the_transport_ones():
    from modelzoo.transport.flow_matching import TimestepSampling

    assert set(TIMESTEPS) == {t.value for t in TimestepSampling}


def test_the_command_says_it_in_one_line_exit_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("TORCHELASTIC_RUN_ID", "LUMINA_CATALOG", "LUMINA_TRACEBACK")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-m", "training.train", "--home", str(tmp_path / "nothing"), "--manifest", "m",
                           "--seed", "-1"], cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"python -m training.train: error: seed must be between 0 and {MAX_SEED} "
                                                "(2**63 - 1); got -1 (--help for usage)"], done.stderr
