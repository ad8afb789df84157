"""A user error under real torchrun (2 CPU processes) prints our one line once, and torchrun's failure
report names it (the walkthrough of 2026-12-05: in 1 launch of 8 the line was missing, as rank 1 exited
first and torchrun killed rank 0 before it printed; the report said "error_file: <N/A>").

A wrapper script delays a rank, as a loaded host does, so each race is met every time: rank 0 waits
until rank 1 is waiting in say_error for it (a fixed 3 s head start was both longer than needed and
no guarantee on a loaded host)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.training.test_distributed import torchrun_env

WRAPPER = """
import os, sys, time
import training.train as t
t.OTHER_RANKS_WAIT_S = float(os.environ["TEST_OTHER_RANKS_WAIT_S"])
rank = os.environ["RANK"]
waiting = os.environ.get("TEST_RANK1_WAITING")  # a file rank 1 makes once it waits in say_error for rank 0
if rank == "1" and waiting:
    say_error = t.say_error

    def announced(line):
        open(waiting, "w").close()
        say_error(line)

    t.say_error = announced
if rank == "0" and waiting:  # a slower rank 0 (imports, a loaded host): it meets the error after rank 1 has
    import flows.steps  # noqa: F401  (what the refusal imports, torch with it: while rank 1 gets there)
    deadline = time.time() + 120  # a rank 1 that never gets there fails the test's assertions, not its timeout
    while not os.path.exists(waiting) and time.time() < deadline:
        time.sleep(0.05)
args = os.environ.get("TEST_ARGV_RANK" + rank, "").split() or sys.argv[1:]
if args == ["hang"]:  # a rank with no error of its own, waiting in a collective for the others
    time.sleep(120)
sys.exit(t.main(args))
"""


def _torchrun(tmp: Path, argv: list[str], rank0_after_rank1: bool = False, wait: float = 30.0, **per_rank: str):
    script = tmp / "wrapper.py"
    script.write_text(WRAPPER)
    env = {**torchrun_env(tmp), "TEST_OTHER_RANKS_WAIT_S": str(wait),
           **({"TEST_RANK1_WAITING": str(tmp / "rank1-waiting")} if rank0_after_rank1 else {}),
           **{f"TEST_ARGV_RANK{r[-1]}": v for r, v in per_rank.items()}}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script), *argv]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)


def _ours(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("python -m training.train: error:")]


@pytest.mark.slow
def test_a_refusal_met_by_every_rank_is_printed_once_even_when_rank_1_gets_there_first(tmp_path):
    missing = tmp_path / "no-home"
    missing.mkdir()
    proc = _torchrun(tmp_path, ["--home", str(missing), "--manifest", "m"], rank0_after_rank1=True)
    line = f"python -m training.train: error: no catalog at {missing / 'catalog.duckdb'}"
    assert proc.returncode == 1  # torchrun's own code for a failed worker
    assert [s.startswith(line) for s in _ours(proc.stderr)] == [True], proc.stderr[-4000:]
    report = proc.stderr[proc.stderr.index("Root Cause"):]
    assert "rank      : 0" in report and "exitcode  : 2" in report and line in report, report  # not "<N/A>"


@pytest.mark.slow
def test_an_error_only_rank_1_meets_is_printed_naming_its_rank(tmp_path):
    missing = tmp_path / "no-home"
    missing.mkdir()
    proc = _torchrun(tmp_path, ["--home", str(missing), "--manifest", "m"], wait=0.5, rank0="hang")
    said = _ours(proc.stderr)
    assert proc.returncode == 1 and len(said) == 1, proc.stderr[-4000:]
    assert said[0].startswith(f"python -m training.train: error: rank 1: no catalog at {missing}"), said


@pytest.mark.slow
def test_a_bad_option_value_is_printed_once_not_once_per_rank(tmp_path):
    proc = _torchrun(tmp_path, ["--manifest", "m", "--set", "lr=abc"])
    said = _ours(proc.stderr)
    assert proc.returncode == 1 and len(said) == 1 and "lr" in said[0], proc.stderr[-4000:]
