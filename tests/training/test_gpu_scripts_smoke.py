"""The prepared GPU checks (bench/gpu_checks.sh) must still run when a session is lent a GPU: their
--cpu-smoke modes push a tiny model through the same code here."""

import json
import os
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


def test_flagdit_600m_benchmark_runs_on_a_tiny_model():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_flagdit_600m.py"), "--cpu-smoke"], env=ENV,
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "TFLOP/s" in proc.stdout and "of peak" in proc.stdout


def test_async_checkpoint_benchmark_runs_on_a_tiny_model():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_async_checkpoint.py"), "--cpu-smoke"], env=ENV,
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rounds = [line for line in proc.stdout.splitlines() if line.startswith("round 1")]
    assert len(rounds) == 2 and all(line.endswith("in 2 checkpoints") for line in rounds), proc.stdout
    assert "async / sync = " in proc.stdout
