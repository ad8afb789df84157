"""torchrun --max-restarts N: when a rank fails, torchrun starts every rank again. The new attempt's
process group met the dead attempt's keys in torchrun's agent store (torch 2.14's env:// rendezvous
does not prefix them per attempt), and its rank 0 dialled the dead rank 1's gloo address: `Gloo
connectFullMesh failed ... Connection refused`, every restart, exit 1 (the walkthrough of 2026-12-06;
a plain torch script does the same; at HEAD before the fix the test below failed 3 runs in 5, one
of them hanging until its timeout). init_distributed gives each attempt its own prefix. And the
restarted ranks ran the same command without --resume, which the run folder refused
(`restarted_attempt` continues it: training/train.py calls it, with the owner of that file)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.training.test_distributed import torchrun_env

SCRIPT = """
import os, time, torch
from training.distributed import all_sum, init_distributed
attempt = int(os.environ["TORCHELASTIC_RESTART_COUNT"])
if attempt == 1 and os.environ["RANK"] == "1":
    time.sleep(2)  # rank 0 reaches the rendezvous first, as a rank on a less loaded host does: every time, not 1 in 2
rank, world, _ = init_distributed()
for i in range(3):
    assert all_sum(torch.ones(1)).item() == world
    if attempt == 0 and rank == 1 and i == 1:
        os.kill(os.getpid(), 9)  # a rank killed mid-run (the OOM killer, a preempted slot)
print(f"rank {rank} attempt {attempt} done", flush=True)
torch.distributed.destroy_process_group()  # as train() does: gloo's threads left to the exit aborted it at times
"""


def test_a_restarted_attempt_forms_its_process_group_again(tmp_path):
    script = tmp_path / "ranks.py"
    script.write_text(SCRIPT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--max-restarts=1",
           "--monitor-interval=0.1", str(script)]
    try:
        proc = subprocess.run(cmd, env=torchrun_env(tmp_path), capture_output=True, text=True, timeout=90)
    finally:  # a hung attempt: the timeout kills torchrun only, its ranks (a session of their own) stayed
        _kill_ranks_of(script)
    done = sorted(re.findall(r"rank (\d) attempt (\d) done", proc.stdout))  # the ranks' lines may interleave
    assert proc.returncode == 0 and done == [("0", "1"), ("1", "1")], (proc.stdout, proc.stderr[-3000:])
    assert "connectFullMesh failed" not in proc.stderr


def _kill_ranks_of(script: Path) -> None:
    import psutil

    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            if str(script) in (p.info["cmdline"] or []):
                p.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass


@pytest.fixture
def attempt(monkeypatch):
    """torchrun's environment for a rank of the given attempt (0: the first)."""
    def set_attempt(n: int) -> None:
        monkeypatch.setenv("TORCHELASTIC_RUN_ID", "test")
        monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", str(n))
        monkeypatch.setenv("RANK", "0")

    return set_attempt


def test_a_restarted_attempt_continues_its_run_from_its_last_checkpoint(attempt, monkeypatch, caplog):
    """The restarted ranks ran the same command, without --resume: refused ("already holds
    checkpoint-0000040 of an earlier run: --resume continues it"), torchrun's restarts spent on that."""
    import training.state
    from training.distributed import restarted_attempt
    from training.trainer import TrainConfig

    kept = {"/runs/ddp": Path("/runs/ddp/checkpoint-0000040")}
    monkeypatch.setattr(training.state, "latest_resumable", lambda out_dir, content=True: kept.get(str(out_dir)))
    cfg = TrainConfig(out_dir="/runs/ddp", steps=60)
    attempt(0)
    assert restarted_attempt(cfg) is cfg  # the first attempt: as the command says
    attempt(1)
    with caplog.at_level("WARNING", logger="training"):
        again = restarted_attempt(cfg)
    assert again.resume and again.steps == 60 and not cfg.resume
    assert "torchrun restart 1 of this run (--max-restarts): continuing it from its last checkpoint, as --resume" in caplog.text
    fresh = TrainConfig(out_dir="/runs/new", steps=60)
    assert restarted_attempt(fresh) is fresh  # no checkpoint yet: the attempt starts the run again
    given = TrainConfig(out_dir="/runs/ddp", resume=True)
    assert restarted_attempt(given) is given

    def damaged(out_dir, content=True):
        raise ValueError("damaged")

    monkeypatch.setattr(training.state, "latest_resumable", damaged)
    assert restarted_attempt(cfg).resume  # --resume's own refusal then names the intact checkpoint
    monkeypatch.delenv("TORCHELASTIC_RUN_ID")
    assert restarted_attempt(cfg) is cfg  # a restart count without torchrun is none of ours
