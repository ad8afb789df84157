"""`lumina train --launcher ray --workers 1` joined to a private `ray start --head --block` on
127.0.0.1 (its own temp dir and ports), for the tests that kill parts of that cluster mid-training.
Only this cluster's own processes are touched; all of them are gone when the block ends."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from tests.ray_processes import cluster_pids, kill, ray_test_env, start_blocking_head
from tests.training.test_distributed import TINY, own_home
from training.ray_launcher import RAY_TRAIN_PRIVATE_ENV

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass
class HeadRun:
    home: Path
    run: Path  # the run folder (--out-dir)
    address: str
    temp_dir: str
    head: subprocess.Popen
    train: subprocess.Popen
    err_path: Path  # the train command's stderr
    flags: list[str]  # the train command's flags but --steps, --checkpoint-every and the launcher's
    driver_log: str = ""  # at the end, from driver_log(temp_dir, train pid) where given


def metrics_rows(run: Path) -> int:
    try:
        return max(0, (run / "metrics.csv").read_text().count("\n") - 1)
    except FileNotFoundError:
        return 0


@contextmanager
def training_on_a_private_head(tiny_home, tmp_path: Path, prefix: str, lost_s: float,
                               driver_log: Callable[[str, int], str] | None = None) -> Iterator[HeadRun]:
    """Yields once the run has logged 3 steps and written checkpoint-0000002 (every 2 steps)."""
    home, run = own_home(tiny_home, tmp_path), tmp_path / "run"
    temp_dir = tempfile.mkdtemp(prefix=prefix, dir="/tmp")  # short: Ray's socket paths have a length limit
    env = ray_test_env(PYTHONPATH=str(REPO))
    env.pop("LUMINA_TRACEBACK", None)
    head, address = start_blocking_head(temp_dir, tmp_path / "ray.log", env, REPO)
    flags = ["--home", str(home), "--manifest", tiny_home.train_manifest, "--null-caption", tiny_home.null_caption,
             "--out-dir", str(run), "--model-overrides", json.dumps(TINY), "--no-progress", "--no-tensorboard",
             "--batch-size", "8", "--log-every", "1", "--num-threads", "1", "--shuffle-buffer", "16"]
    err_path = tmp_path / "train.err"
    # one worker (a second one cost ~7 s of CPU, and nothing here depends on how many there are); no
    # preemption watcher or Ray Train metrics (as on lumina's private Ray: an actor process polling for
    # node drains, ~2 s of CPU to start), set as a user's own values, which win (ray_train_env)
    train = subprocess.Popen(
        [str(BIN / "lumina"), "train", *flags, "--steps", "100000", "--checkpoint-every", "2", "--launcher", "ray",
         "--workers", "1", "--ray-address", address],
        cwd=REPO, env={**env, "LUMINA_RAY_LOST_S": str(lost_s), **RAY_TRAIN_PRIVATE_ENV}, stdout=subprocess.DEVNULL,
        stderr=open(err_path, "w"), start_new_session=True)
    h = HeadRun(home, run, address, temp_dir, head, train, err_path, flags)
    try:
        deadline = time.monotonic() + 240
        while (metrics_rows(run) < 3 or not (run / "checkpoint-0000002" / "train_state.json").exists()) and \
                train.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert train.poll() is None and metrics_rows(run) >= 3, err_path.read_text()[-3000:]
        yield h
    finally:
        if train.poll() is None:
            os.killpg(train.pid, signal.SIGKILL)
            train.wait(10)
        kill(cluster_pids(temp_dir, head.pid))
        head.wait(10)
        if driver_log is not None:
            h.driver_log = driver_log(temp_dir, train.pid)
        shutil.rmtree(temp_dir, ignore_errors=True)
