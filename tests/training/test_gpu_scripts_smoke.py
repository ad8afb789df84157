"""The prepared GPU checks (bench/gpu_checks.sh) must still run when a session is lent a GPU: their
--cpu-smoke modes push a tiny model through the same code here."""

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


@pytest.mark.slow
def test_fsdp2_check_restores_a_checkpoint_into_a_fresh_sharded_model(tmp_path):
    out = tmp_path / "fsdp2.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(ROOT / "bench" / "gpu_fsdp2.py"), "--cpu-smoke", "--json", str(out)]
    # TMPDIR: torchrun leaves a torchelastic_* log folder behind after every launch
    proc = subprocess.run(cmd, env={**ENV, "TMPDIR": str(tmp_path)}, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(out.read_text())
    assert summary["world"] == 2 and summary["finite"] and len(summary["losses"]) == 4
    # the restored model was trained: its next loss is the original's, not a fresh model's
    assert summary["restore_matches"] and summary["next_loss_original"] == summary["next_loss_restored"]


def _run_script(script: Path, capsys, monkeypatch, *args: str) -> str:
    """What `python SCRIPT ARGS` prints, the script run as __main__ in this process: a new interpreter's
    import of torch was about 2.3 s of CPU of each smoke run's 3 (the script's code is the same; one
    that fails raises here, or exits non-zero: SystemExit). One torch thread, as ENV's OMP_NUM_THREADS
    gave the script's own process; torch's global RNG and thread count, sys.path and sys.argv are put
    back afterwards, so no later test in this worker sees the script's seed."""
    import torch

    monkeypatch.setattr(sys, "argv", [str(script), *args])
    monkeypatch.setattr(sys, "path", list(sys.path))
    threads = torch.get_num_threads()
    capsys.readouterr()
    with torch.random.fork_rng(devices=[]):
        try:
            torch.set_num_threads(1)
            runpy.run_path(str(script), run_name="__main__")
        finally:
            torch.set_num_threads(threads)
    return capsys.readouterr().out


def test_flagdit_600m_benchmark_runs_on_a_tiny_model(capsys, monkeypatch):
    out = _run_script(ROOT / "bench" / "gpu_flagdit_600m.py", capsys, monkeypatch, "--cpu-smoke")
    assert "TFLOP/s" in out and "of peak" in out


def test_async_checkpoint_benchmark_runs_on_a_tiny_model(capsys, monkeypatch):
    out = _run_script(ROOT / "bench" / "bench_async_checkpoint.py", capsys, monkeypatch, "--cpu-smoke")
    rounds = [line for line in out.splitlines() if line.startswith("round 1")]
    assert len(rounds) == 2 and all(line.endswith("in 2 checkpoints") for line in rounds), out
    assert "async / sync = " in out
