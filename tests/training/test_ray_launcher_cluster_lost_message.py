"""training.ray_launcher.fit_watched without a cluster: Ray Train's fit() failing while the GCS still
answers is its own error, at once (a worker's exception, not a lost cluster); failing while the GCS
stays unreachable is RayClusterLost, one line that names the run's last checkpoint and --resume (or,
with none yet, says to run the command again). tests/training/test_ray_launcher_cluster_lost.py
kills a real cluster under `lumina train`."""

from __future__ import annotations

import socket
import time

import pytest

from contracts import ray_runtime as rt
from training.ray_launcher import fit_watched
from training.trainer import TrainConfig


class FailingFit:
    def fit(self):
        raise RuntimeError("ActorUnavailableError stand-in")


@pytest.fixture
def joined(monkeypatch):
    """As after `--ray-address 127.0.0.1:1`: a joined cluster, not this command's own Ray."""
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    monkeypatch.setattr(rt, "_started_here", False)
    monkeypatch.setattr(rt, "GCS_PROBE_EVERY_S", 0.05)
    monkeypatch.setattr(rt, "GCS_LOST_AFTER_S", 0.3)
    unwatched(monkeypatch)


def unwatched(monkeypatch):
    """No Ray here: the watch (tested in tests/preprocess/test_ray_cluster_dies.py) would start one."""
    import contextlib

    monkeypatch.setattr(rt, "gcs_watched", contextlib.nullcontext)


def test_a_failed_fit_whose_gcs_answers_is_its_own_error_at_once(joined, monkeypatch, tmp_path):
    monkeypatch.setattr(rt, "GCS_LOST_AFTER_S", 30.0)
    with socket.socket() as live:  # a GCS port that accepts connections
        live.bind(("127.0.0.1", 0))
        live.listen()
        monkeypatch.setattr(rt, "gcs_address", lambda: "127.0.0.1:%d" % live.getsockname()[1])
        start = time.monotonic()
        with pytest.raises(RuntimeError, match="stand-in"):
            fit_watched(FailingFit(), TrainConfig(out_dir=str(tmp_path)))
    assert time.monotonic() - start < 15  # not the 30 s a lost cluster is given (15: a loaded host)


def test_a_failed_fit_whose_gcs_is_gone_names_the_last_checkpoint_and_resume(joined, monkeypatch, tiny_checkpoint):
    monkeypatch.setattr(rt, "gcs_address", lambda: "127.0.0.1:1")  # nothing listens there
    with pytest.raises(rt.RayClusterLost) as lost:
        fit_watched(FailingFit(), TrainConfig(out_dir=str(tiny_checkpoint.parent)))
    assert str(lost.value) == (
        f"the Ray cluster at 127.0.0.1:1 stopped answering mid-training (unreachable for 0.3 s): the run's last "
        f"checkpoint, {tiny_checkpoint} (step 1), is kept: restart the cluster and run the same command with --resume "
        "to continue from it")
    assert isinstance(lost.value.__cause__, RuntimeError)  # LUMINA_TRACEBACK=1 shows what fit() raised


def test_before_the_first_checkpoint_it_says_to_run_again_and_how_to_keep_checkpoints(joined, monkeypatch, tmp_path):
    monkeypatch.setattr(rt, "gcs_address", lambda: "127.0.0.1:1")
    with pytest.raises(rt.RayClusterLost) as lost:
        fit_watched(FailingFit(), TrainConfig(out_dir=str(tmp_path)))
    assert str(lost.value) == (
        "the Ray cluster at 127.0.0.1:1 stopped answering mid-training (unreachable for 0.3 s) before the run's first "
        "checkpoint (--checkpoint-every N keeps one every N steps): restart the cluster and run the same command again")


def test_this_commands_own_ray_says_ray_stop(monkeypatch, tiny_checkpoint):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(rt, "_started_here", True)
    monkeypatch.setattr(rt, "GCS_LOST_AFTER_S", 0.0)
    unwatched(monkeypatch)
    monkeypatch.setattr(rt, "gcs_address", lambda: "127.0.0.1:1")
    with pytest.raises(rt.RayClusterLost) as lost:
        fit_watched(FailingFit(), TrainConfig(out_dir=str(tiny_checkpoint.parent)))
    assert str(lost.value) == (
        "this command's own Ray instance (GCS 127.0.0.1:1) stopped answering mid-training (was `ray stop` run on this "
        f"host?): the run's last checkpoint, {tiny_checkpoint} (step 1), is kept: run the same command with --resume to "
        "continue from it")
