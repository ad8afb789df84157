"""A Ray Train worker whose process dies mid-run (kill -9, the OOM killer, a segfault) while the cluster
stays up: `lumina train --launcher ray` ended with Ray's WorkerGroupError traceback (about 40 lines,
exit 1) that named neither the checkpoint to continue from nor --resume, and left Ray Train's storage
folder (`<out_dir>/ray`, only its marker file) in the run folder. Now one line that names the rank, its
pid and the run's last checkpoint, exit 2, and the folder goes (the walkthrough of 2026-12-06: a
RayTrainWorker SIGKILLed at step 15 of a 2-worker run)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from contracts import ray_runtime as rt
from tests.training.conftest import ray_cluster_group
from training.ray_launcher import RayWorkerLost, fit_watched
from training.trainer import TrainConfig

GLOO = ("[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:545] Read error [127.0.0.1]:48862: "
        "Connection reset by peer. This is typically caused by a remote worker hanging")


def health_check_failed(rank: int, pid: int, cause: Exception | None = None) -> Exception:
    """What Ray Train (2.60) records for a worker whose process died: its WorkerHealthCheckFailedError
    (the worker's repr in the message) around the ActorDiedError of the poll."""
    from ray.exceptions import ActorDiedError
    from ray.train.v2._internal.exceptions import WorkerHealthCheckFailedError

    info = (f"A worker health check failed.\nWorker info: Worker(\n  actor=Actor(RayTrainWorker, 18c6ee26eb06),\n"
            f"  metadata=ActorMetadata(\n    hostname='vm',\n    node_id='6bf2',\n    node_ip='127.0.0.1',\n"
            f"    pid={pid},\n  ),\n  distributed_context=DistributedContext(world_rank={rank}, world_size=2, "
            f"local_rank={rank}, local_world_size=2, node_rank=0),\n)")
    return WorkerHealthCheckFailedError(info, cause if cause is not None else ActorDiedError())


class WorkersFail:
    """A TorchTrainer whose fit() fails as Ray Train's does when a worker is lost."""

    def __init__(self, failures: dict[int, Exception]):
        self.failures = failures

    def fit(self):
        from ray.train import WorkerGroupError

        raise WorkerGroupError("[Rank 1 Error Snippet]:\nA worker health check failed. ...", self.failures)


@pytest.fixture
def live_gcs(monkeypatch):
    """A Ray cluster that still answers (no Ray here: the watch would start one)."""
    monkeypatch.setattr(rt, "gcs_watched", contextlib.nullcontext)
    monkeypatch.setattr(rt, "gcs_address", lambda: None)
    monkeypatch.setattr(rt, "gcs_lost", lambda gcs, after: False)


def last_checkpoint(monkeypatch, path: str | None) -> None:
    import training.state

    monkeypatch.setattr(training.state, "latest_resumable", lambda out_dir, content=True: None if path is None else Path(path))


def test_a_dead_worker_is_one_line_naming_its_rank_pid_and_the_checkpoint_to_resume(live_gcs, monkeypatch, tmp_path):
    last_checkpoint(monkeypatch, "/runs/r/checkpoint-0000015")
    # rank 1 was killed; rank 0's error is gloo's, its consequence: not said
    with pytest.raises(RayWorkerLost) as lost:
        fit_watched(WorkersFail({0: RuntimeError(GLOO), 1: health_check_failed(1, 31888)}), TrainConfig(out_dir=str(tmp_path)))
    assert str(lost.value) == (
        "Ray Train worker rank 1 (pid 31888 on 127.0.0.1) died (its process ended: killed, out of memory, or crashed) "
        "mid-training: the run's last checkpoint, /runs/r/checkpoint-0000015 (step 15), is kept: run the same command "
        "with --resume to continue from it")
    assert type(lost.value.__cause__).__name__ == "WorkerGroupError"  # LUMINA_TRACEBACK=1 shows Ray's report
    # no RayClusterLost: lumina would end at once (os._exit), leaving the live private Ray's agents ~90 s
    assert not isinstance(lost.value, rt.RayClusterLost)


def test_before_the_first_checkpoint_it_says_to_run_again_and_two_dead_workers_are_both_named(live_gcs, monkeypatch, tmp_path):
    from ray.exceptions import OutOfMemoryError

    last_checkpoint(monkeypatch, None)
    with pytest.raises(RayWorkerLost) as lost:
        fit_watched(WorkersFail({0: health_check_failed(0, 11), 1: health_check_failed(1, 12)}),
                    TrainConfig(out_dir=str(tmp_path), checkpoint_every=0))
    assert str(lost.value) == (
        "Ray Train workers rank 0 (pid 11 on 127.0.0.1), rank 1 (pid 12 on 127.0.0.1) died (its process ended: killed, "
        "out of memory, or crashed) mid-training before the run's first checkpoint (--checkpoint-every N keeps one every "
        "N steps): run the same command again")
    with pytest.raises(RayWorkerLost, match=r"^Ray Train worker rank 0 \(pid 7 on 127.0.0.1\) was killed by Ray, its "
                                            r"node low on memory mid-training"):
        fit_watched(WorkersFail({0: health_check_failed(0, 7, OutOfMemoryError("low memory"))}), TrainConfig(out_dir=str(tmp_path)))


def test_a_workers_own_error_is_not_a_lost_worker(live_gcs, tmp_path):
    """A bug's traceback in a worker stays Ray's report (its snippet names the rank and the error)."""
    with pytest.raises(Exception) as e:
        fit_watched(WorkersFail({1: RuntimeError("cannot decode sample k-123")}), TrainConfig(out_dir=str(tmp_path)))
    assert type(e.value).__name__ == "WorkerGroupError"


def test_lumina_train_prints_the_line_and_exits_2(live_gcs, monkeypatch, tmp_path, capsys):
    import flows.cli
    import flows.steps

    last_checkpoint(monkeypatch, str(tmp_path / "run" / "checkpoint-0000015"))

    def train_step(home, cfg, *a, **k):  # as train_with_ray, once a worker has died
        return fit_watched(WorkersFail({1: health_check_failed(1, 31888)}), cfg)

    monkeypatch.setattr(flows.steps, "train_step", train_step)
    assert flows.cli.main(["train", "--manifest", "m", "--out-dir", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"lumina train: error: Ray Train worker rank 1 (pid 31888 on 127.0.0.1) died (its process ended: killed, out of "
        f"memory, or crashed) mid-training: the run's last checkpoint, {tmp_path / 'run' / 'checkpoint-0000015'} (step "
        f"15), is kept: run the same command with --resume to continue from it"]


def _workers(temp_dir: str) -> list[int]:
    from tests.ray_processes import cluster_pids

    out = []
    for pid in cluster_pids(temp_dir):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::RayTrainWorker"):
                out.append(pid)
        except OSError:
            continue
    return out


@pytest.mark.slow
@ray_cluster_group
def test_a_real_worker_killed_mid_run_ends_in_the_line_and_its_checkpoint_resumes(tiny_home, tmp_path, ray_address, monkeypatch):
    """A real 2-worker run on the shared private cluster (tests/training/conftest.py): one RayTrainWorker
    SIGKILLed once the run has a checkpoint. fit() fails within a second or two; the kept checkpoint
    then resumes (in this process: the same global batch, tested against Ray elsewhere)."""
    import ray

    from tests.training.conftest import _CLUSTER
    from tests.training.test_distributed import RAY_TRAIN_TEST_ENV, TINY, losses
    from training.ray_launcher import train_with_ray
    from training.trainer import train

    for k, v in RAY_TRAIN_TEST_ENV.items():
        monkeypatch.setenv(k, v)
    run = tmp_path / "ray"
    common = dict(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                  out_dir=str(run), model_overrides=TINY, batch_size=8, log_every=1, num_threads=1, progress=False,
                  tensorboard=False, checkpoint_every=2)
    killed = []

    def kill_one_worker() -> None:
        deadline = time.time() + 120
        while time.time() < deadline and not (run / "checkpoint-0000002").exists():
            time.sleep(0.1)
        workers = _workers(_CLUSTER.temp_dir)
        if len(workers) == 2:
            os.kill(workers[1], signal.SIGKILL)
            killed.append(workers[1])

    killer = threading.Thread(target=kill_one_worker, daemon=True)
    killer.start()
    try:
        with pytest.raises(RayWorkerLost) as lost:
            train_with_ray(TrainConfig(steps=100000, launcher="ray", workers=2, **common))
    finally:
        ray.shutdown()
        killer.join()
    assert killed, "no two RayTrainWorker processes to kill"
    said = str(lost.value)
    assert f"(pid {killed[0]} on " in said and ") died (its process ended" in said and "run the same command with --resume" in said, said
    assert "\n" not in said
    kept = int(said.split("(step ")[1].split(")")[0])
    assert kept >= 2 and (run / f"checkpoint-{kept:07d}").is_dir()
    assert not (run / "ray").exists()  # Ray Train's storage folder, only its marker: gone on a failure too
    assert not _workers(_CLUSTER.temp_dir)  # Ray Train ended the other worker
    result = train(TrainConfig(steps=kept + 1, resume=True, **common))
    assert result.resumed_from_step == kept and len(losses(run)) == kept + 1


TIMED_OUT = "[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/unbound_buffer.cc:129] Timed out waiting 5000ms for send operation to complete"


def test_a_hung_worker_seen_only_by_rank_0s_timeout_is_one_line_too(live_gcs, monkeypatch, tmp_path):
    """A RayTrainWorker SIGSTOPped with LUMINA_COLLECTIVE_TIMEOUT_S=5: Ray Train recorded only rank 0's
    gloo timeout (the stopped worker is no failure of its own), and printed its traceback."""
    last_checkpoint(monkeypatch, "/runs/r/checkpoint-0000010")
    with pytest.raises(RayWorkerLost) as lost:
        fit_watched(WorkersFail({0: RuntimeError(TIMED_OUT)}), TrainConfig(out_dir=str(tmp_path)))
    assert str(lost.value) == (
        "a Ray Train worker other than rank 0 did not answer a collective mid-training (Timed out waiting 5000ms for "
        "send operation to complete; $LUMINA_COLLECTIVE_TIMEOUT_S sets the wait): it hangs (a stalled file system, a "
        "stopped process): the run's last checkpoint, /runs/r/checkpoint-0000010 (step 10), is kept: run the same "
        "command with --resume to continue from it")
    with pytest.raises(RayWorkerLost, match=r"^a Ray Train worker other than rank 0 ended under a collective mid-training "
                                            r"\(Read error \[127.0.0.1\]:48862: Connection reset by peer\): its process died"):
        fit_watched(WorkersFail({0: RuntimeError(GLOO)}), TrainConfig(out_dir=str(tmp_path)))
