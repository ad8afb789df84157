"""torchrun with 2 CPU ranks, rank 1 raising an error of its own (a bug's RuntimeError) on its second
batch while rank 0 waits for it in the step's all-reduce: rank 0 met gloo's `Connection closed by peer`
and printed its 26-line traceback under rank 1's own. Now rank 0 says one line naming that, the run's
last checkpoint and --resume, and torchrun's report still names rank 1 as the root cause."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.training.test_distributed import TINY, own_home, torchrun_env

WRAPPER = """
import os, sys
import training.trainer as trainer
import training.train as t
if os.environ["RANK"] == "1":
    real = trainer.batch_loader

    def batch_loader(*args, **kwargs):
        for n, item in enumerate(real(*args, **kwargs), 1):
            if n == 2:
                raise RuntimeError("cannot decode sample k-123 (a bug)")
            yield item

    trainer.batch_loader = batch_loader
sys.exit(t.main(sys.argv[1:], as_command=True))
"""


@pytest.mark.slow
def test_the_rank_left_waiting_says_one_line_not_glooS_traceback(tiny_home, tmp_path):
    import subprocess

    script = tmp_path / "wrapper.py"
    script.write_text(WRAPPER)
    home = own_home(tiny_home, tmp_path)
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script),
           "--home", str(home), "--manifest", tiny_home.train_manifest, "--null-caption", tiny_home.null_caption,
           "--out-dir", str(run), "--model-overrides", json.dumps(TINY), "--no-progress", "--no-tensorboard",
           "--steps", "10", "--checkpoint-every", "1", "--batch-size", "8", "--num-threads", "1"]
    proc = subprocess.run(cmd, env=torchrun_env(tmp_path), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 1
    assert "[rank1]: RuntimeError: cannot decode sample k-123 (a bug)" in proc.stderr  # rank 1's own traceback, as before
    assert "[rank0]: Traceback" not in proc.stderr, proc.stderr[-4000:]
    ours = [line for line in proc.stderr.splitlines() if line.startswith("python -m training.train: error: rank 0:")]
    assert len(ours) == 1 and "another rank's process ended mid-training (gloo: Connection" in ours[0], proc.stderr[-4000:]
    assert f"the run's last checkpoint, {run / 'checkpoint-0000001'} (step 1), is kept" in ours[0]
    root = proc.stderr[proc.stderr.index("Root Cause"):]
    assert "rank      : 1" in root, root  # the rank that failed first, not the one left waiting
