"""torchrun --max-restarts=1 and a rank killed mid-run: the restarted attempt continues the run from its
last checkpoint (training.distributed.restarted_attempt, called by training/train.py) and ends it; before,
the restart was refused ("already holds checkpoint-... of an earlier run") and torchrun exited 1.

The same launch carries DDP's check against one process with the same global batch (loss trace and
final weights, checkpoints registered by rank 0 only): a 2-process run of its own for that was a
torchrun launch and a one-process training more (~20 s of CPU); the killed run's trace and weights
must equal one process's all the same, so a DDP mismatch still fails here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.training.test_distributed import TINY, losses, own_home, torchrun_env
from training.trainer import TrainConfig, train

WRAPPER = """
import os, sys
import training.trainer as trainer
import training.train as t
if os.environ["RANK"] == "1" and os.environ["TORCHELASTIC_RESTART_COUNT"] == "0":
    real = trainer.batch_loader

    def batch_loader(*args, **kwargs):
        for n, item in enumerate(real(*args, **kwargs), 1):
            if n == 4:
                os.kill(os.getpid(), 9)  # killed after step 3 (the OOM killer, a preempted slot)
            yield item

    trainer.batch_loader = batch_loader
sys.exit(t.main(sys.argv[1:], as_command=True))
"""


@pytest.mark.slow
def test_a_rank_killed_under_max_restarts_is_continued_from_the_last_checkpoint_and_matches_one_process(tiny_home, tmp_path):
    script = tmp_path / "wrapper.py"
    script.write_text(WRAPPER)
    home = own_home(tiny_home, tmp_path)
    run = tmp_path / "ddp"
    opts = dict(batch_size=8, lr=3e-3, warmup_steps=2, log_every=1, num_threads=1)
    flags = [a for k, v in opts.items() for a in (f"--{k.replace('_', '-')}", str(v))]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--max-restarts=1",
           str(script), "--home", str(home), "--manifest", tiny_home.train_manifest, "--null-caption",
           tiny_home.null_caption, "--out-dir", str(run), "--model-overrides", json.dumps(TINY), "--no-progress",
           "--no-tensorboard", "--steps", "6", "--checkpoint-every", "2", *flags]
    proc = subprocess.run(cmd, env=torchrun_env(tmp_path), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "torchrun restart 1 of this run (--max-restarts): continuing it from its last checkpoint" in proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["resumed_from_step"] == 2
    train(TrainConfig(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                      out_dir=str(tmp_path / "one"), model_overrides=TINY, progress=False, tensorboard=False, steps=6, **opts))
    # as a run never killed, and as one process with the same global batch
    torch.testing.assert_close(losses(run), losses(tmp_path / "one"), rtol=1e-5, atol=1e-6)
    assert len(losses(tmp_path / "one")) == 6
    a, b = (load_file(str(Path(r) / "checkpoint-0000006" / "train_state.safetensors")) for r in (tmp_path / "one", run))
    for k in (k for k in a if k.startswith("model.")):
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-6)
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:  # rank 0 registered each, once
        _, rows = cat.sql("SELECT step FROM checkpoints ORDER BY step")
    assert [r[0] for r in rows] == [2, 4, 6]  # step 2 by the killed attempt, 4 and 6 by the restarted one
