"""The Ray node `lumina train --launcher ray` runs on dies mid-training while the cluster's GCS lives on
(its raylet stopped: `ray stop` on that host, a crash, the OOM killer), taking Ray Train's controller
actor, which Ray Train places on the driver's node, with it. Before (training.ray_launcher.controller_lost),
the run ended about 2 s later with Ray's ActorDiedError traceback ("The actor is dead because its owner
has died. ... Owner's node has crashed.", about 30 lines, exit 1) that named neither the checkpoint to
continue from nor --resume. Now one line, exit 2, as a lost worker's (RayWorkerLost) or a lost cluster's.

The whole cluster lost (the GCS too) is tests/training/test_ray_launcher_cluster_lost.py's; a worker
process lost, the controller alive, tests/training/test_ray_faults_worker_lost.py's."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from contracts import ray_runtime as rt
from tests.training.test_ray_faults_worker_lost import last_checkpoint, live_gcs  # noqa: F401 (a fixture)
from training.ray_launcher import RayNodeLost, RayWorkerLost, fit_watched
from training.trainer import TrainConfig

OWNER_NODE_CRASHED = ("The actor is dead because its owner has died. Owner Id: 01000000ffffffffffffffffffffffffffffffffffffffffffffffff "
                      "Owner Ip address: 192.0.2.2 Owner worker exit type: SYSTEM_ERROR Worker exit detail: Owner's node has crashed.")


def actor_died(message: str, class_name: str = "TrainController", pid: int = 9812):
    """The ActorDiedError Ray (2.60) raises in the driver's ray.get for a dead actor, as it builds it."""
    from ray.core.generated.common_pb2 import ActorDiedErrorContext
    from ray.exceptions import ActorDiedError

    return ActorDiedError(ActorDiedErrorContext(class_name=class_name, actor_id=b"\x81" * 16, pid=pid, ray_namespace="ns",
                                                node_ip_address="192.0.2.2", error_message=message))


class ControllerFails:
    """A TorchTrainer whose fit() fails as Ray Train's does when its controller actor dies."""

    def __init__(self, error: Exception):
        self.error = error

    def fit(self):
        raise self.error


@pytest.mark.parametrize("private", [False, True])
def test_the_drivers_node_dying_is_one_line_naming_the_checkpoint_to_resume(private, live_gcs, monkeypatch, tmp_path):
    last_checkpoint(monkeypatch, "/runs/r/checkpoint-0000015")
    monkeypatch.setattr(rt, "_started_here", private)
    with pytest.raises(RayNodeLost) as lost:
        fit_watched(ControllerFails(actor_died(OWNER_NODE_CRASHED)), TrainConfig(out_dir=str(tmp_path)))
    # a joined cluster's node is the user's to start again; lumina's own Ray, the next command starts
    again = "" if private else "start Ray on this node again and "
    assert str(lost.value) == (
        "the Ray node this command runs on (192.0.2.2) died mid-training (its raylet stopped or crashed: `ray stop` on "
        "this host, out of memory?), taking Ray Train's controller with it; the cluster still answers: the run's last "
        f"checkpoint, /runs/r/checkpoint-0000015 (step 15), is kept: {again}run the same command with --resume to "
        "continue from it")
    assert type(lost.value.__cause__).__name__ == "ActorDiedError"  # LUMINA_TRACEBACK=1 shows Ray's report
    assert isinstance(lost.value, RayWorkerLost) and not isinstance(lost.value, rt.RayClusterLost)  # exit 2, Ray shut down as usual


def test_the_controllers_own_death_and_an_unreachable_controller_are_one_line_too(live_gcs, monkeypatch, tmp_path):
    from ray.exceptions import ActorUnavailableError

    last_checkpoint(monkeypatch, None)
    cfg = TrainConfig(out_dir=str(tmp_path), checkpoint_every=0)
    with pytest.raises(RayNodeLost) as lost:
        fit_watched(ControllerFails(actor_died("The actor is dead because its worker process has died. Worker exit type: "
                                               "UNEXPECTED_SYSTEM_EXIT Worker exit detail: Worker unexpectedly exits")), cfg)
    assert str(lost.value) == (
        "Ray Train's controller (pid 9812 on 192.0.2.2) died (its process ended: killed, out of memory, or crashed) "
        "mid-training before the run's first checkpoint (--checkpoint-every N keeps one every N steps): run the same "
        "command again")
    with pytest.raises(RayNodeLost, match=r"^Ray Train's controller became unreachable mid-training before"):
        fit_watched(ControllerFails(ActorUnavailableError("The actor is temporarily unavailable: IOError: x", b"\x81" * 16)), cfg)


def test_a_run_begun_with_init_from_is_told_to_resume_without_it(live_gcs, monkeypatch, tmp_path):
    """Every Ray or torchrun loss line ends with training.distributed.what_is_kept: for a stage begun with
    --init-from, "run the same command with --resume" was refused (`--resume and --init-from exclude each
    other`); it now says to leave --init-from out, in training.stopping.resume_advice's words."""
    from training.ray_launcher import cluster_lost_mid_training

    last_checkpoint(monkeypatch, "/runs/stage2/checkpoint-0000015")
    monkeypatch.setattr(rt, "_started_here", False)  # a joined cluster
    cfg = TrainConfig(out_dir="/runs/stage2", init_from="/runs/stage1/checkpoint-0000100")
    with pytest.raises(ValueError, match="--resume and --init-from exclude each other"):
        TrainConfig(out_dir="/runs/stage2", init_from="/runs/stage1/checkpoint-0000100", resume=True)
    said = ("the run's last checkpoint, /runs/stage2/checkpoint-0000015 (step 15), is kept: {}run the same command with "
            "--resume and without --init-from, which this run began from (where the --config file holds init_from:, add "
            "--set init_from=null) to continue from it")
    with pytest.raises(RayNodeLost) as lost:
        fit_watched(ControllerFails(actor_died(OWNER_NODE_CRASHED)), cfg)
    assert str(lost.value).endswith(": " + said.format("start Ray on this node again and ")), str(lost.value)
    assert str(cluster_lost_mid_training(cfg, None, 10.0)).endswith(": " + said.format("")), "a lost cluster's line too"


def test_a_worker_dying_with_its_node_says_so(live_gcs, monkeypatch, tmp_path):
    """Another node than the driver's (the controller lives): Ray Train reports the worker's health check
    failed. A 2-node cluster on this machine (head --num-cpus=0, the worker on the second node, whose
    raylet got SIGTERM) ended in one line, exit 2, 4.5 s after, before as now; it said the worker's
    process ended (killed, out of memory, or crashed), where its node had."""
    from tests.training.test_ray_faults_worker_lost import WorkersFail, health_check_failed

    last_checkpoint(monkeypatch, "/runs/r/checkpoint-0000004")
    node_died = actor_died("The actor died because its node has died. Node Id: cf354ae6a34369a7040f4b0eb099dfd15c56cde717fc6"
                           "60a8b04f6ba\n\tthe actor's node was terminated expectedly: received SIGTERM", class_name="RayTrainWorker")
    with pytest.raises(RayWorkerLost) as lost:
        fit_watched(WorkersFail({0: health_check_failed(0, 32339, node_died)}), TrainConfig(out_dir=str(tmp_path)))
    assert str(lost.value) == (
        "Ray Train worker rank 0 (pid 32339 on 127.0.0.1) died with its node (that node's raylet stopped or crashed) "
        "mid-training: the run's last checkpoint, /runs/r/checkpoint-0000004 (step 4), is kept: run the same command "
        "with --resume to continue from it")


def test_another_actors_death_and_other_errors_stay_rays_report(live_gcs, tmp_path):
    cfg = TrainConfig(out_dir=str(tmp_path))
    with pytest.raises(Exception) as e:  # fit() waits on no other actor: not ours to word
        fit_watched(ControllerFails(actor_died(OWNER_NODE_CRASHED, class_name="SomethingElse")), cfg)
    assert type(e.value).__name__ == "ActorDiedError"
    with pytest.raises(RuntimeError, match="^a bug$"):
        fit_watched(ControllerFails(RuntimeError("a bug")), cfg)


def test_lumina_train_prints_the_line_and_exits_2(live_gcs, monkeypatch, tmp_path, capsys):
    import flows.cli
    import flows.steps

    monkeypatch.setattr(rt, "_started_here", True)
    last_checkpoint(monkeypatch, str(tmp_path / "run" / "checkpoint-0000004"))

    def train_step(home, cfg, *a, **k):  # as train_with_ray, once the driver's raylet has stopped
        return fit_watched(ControllerFails(actor_died(OWNER_NODE_CRASHED)), cfg)

    monkeypatch.setattr(flows.steps, "train_step", train_step)
    assert flows.cli.main(["train", "--manifest", "m", "--out-dir", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "lumina train: error: the Ray node this command runs on (192.0.2.2) died mid-training (its raylet stopped or "
        "crashed: `ray stop` on this host, out of memory?), taking Ray Train's controller with it; the cluster still "
        f"answers: the run's last checkpoint, {tmp_path / 'run' / 'checkpoint-0000004'} (step 4), is kept: run the same "
        "command with --resume to continue from it"]




@pytest.mark.slow
def test_a_real_raylet_stopped_mid_training_ends_the_run_in_one_line_exit_2(tiny_home, tmp_path):
    """A private `ray start --head --block` on 127.0.0.1 (its own temp dir and ports), `lumina train
    --launcher ray --workers 1` joined to it, and once the run has a checkpoint the raylet is sent
    SIGTERM (what `ray stop` sends; `ray start --block` then leaves the GCS up, as a head does when
    another node's raylet stops). Only this cluster's own processes are touched."""
    import psutil

    from catalog import Catalog
    from tests.ray_processes import cluster_pids
    from tests.training.ray_head_run import training_on_a_private_head
    from training.state import latest_resumable

    gcs_alive = False
    with training_on_a_private_head(tiny_home, tmp_path, "lrn", 1) as h:
        temp_dir, head, train, home, run, address = h.temp_dir, h.head, h.train, h.home, h.run, h.address
        stopped = []
        for pid in cluster_pids(temp_dir, head.pid):
            try:
                if Path(psutil.Process(pid).cmdline()[0]).name == "raylet":
                    os.kill(pid, signal.SIGTERM)
                    stopped.append(pid)
            except (psutil.NoSuchProcess, IndexError, ProcessLookupError):
                continue
        assert len(stopped) == 1, stopped
        killed = time.monotonic()
        try:
            rc = train.wait(timeout=60)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.monotonic() - killed
        gcs_alive = rt._gcs_answers(address)  # the node died, not the cluster
    err = h.err_path.read_text()
    print(f"exit {rc}, {took:.1f} s after the raylet's SIGTERM")
    assert gcs_alive, "the GCS died too: not the case under test"
    assert rc == 2, f"exit {rc} after {took:.1f} s:\n{err[-3000:]}"  # before: exit 1, Ray's ActorDiedError traceback
    assert took < 30, f"exited {took:.1f} s after the raylet stopped"
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and [line for line in lines if "error" in line.lower()] == lines[-1:], err[-3000:]
    m = re.fullmatch(
        r"lumina train: error: the Ray node this command runs on \(\S+\) died mid-training \(its raylet stopped or "
        r"crashed: `ray stop` on this host, out of memory\?\), taking Ray Train's controller with it; the cluster still "
        r"answers: the run's last checkpoint, (\S+) \(step (\d+)\), is kept: start Ray on this node again and run the "
        r"same command with --resume to continue from it", lines[-1])
    assert m, lines[-1]
    ckpt, step = Path(m[1]), int(m[2])
    assert ckpt == latest_resumable(run) and ckpt.name == f"checkpoint-{step:07d}" and step >= 2, (ckpt, step)
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, runs = cat.sql("SELECT status, ended_at IS NOT NULL FROM runs WHERE flow_name = 'train'")
    assert runs == [("failed", True)]  # not left `running`
