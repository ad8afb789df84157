"""The two ways a Ray head whose processes die one by one ended `lumina train --launcher ray` with exit 1
and no line of ours (the flake of tests/training/test_ray_launcher_cluster_lost.py, 6 Dec 2026), each
driven here without a cluster; that test's "raylet first" case drives both through a real one.

- The driver owned a ray.put object on its own node (Ray Train's ObjectRefWrapper of the train
  function): when the GCS published the node's death, Ray's core worker tried to recover it and its
  object store client ended the process on the dead node's socket (_Exit(1)). training.ray_launcher's
  trainer_class hands the function over by value: fit() never calls ray.put.
- contracts.ray_runtime.gcs_lost returned False at the GCS's first answer after fit() failed, though the
  GCS died a moment later: the loss became training's own error, and Ray's excepthook waited 60 s on the
  dead GCS. Now the GCS must answer for GCS_PROBE_EVERY_S in a row for the failure to be training's."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from contracts import ray_runtime as rt


def test_fit_hands_the_train_function_over_by_value_not_by_ray_put(monkeypatch, tmp_path):
    import ray
    from ray.train import RunConfig, ScalingConfig

    from training.ray_launcher import ByValue, trainer_class

    def no_put(*args, **kwargs):
        raise AssertionError("fit() ray.put an object on the driver's node: Ray ends the driver when that node dies")

    monkeypatch.setattr(ray, "put", no_put)
    handed = {}

    class Done:
        error = None

    def controller(self, **kwargs):  # what fit() starts Ray Train's controller with (no Ray here)
        handed.update(kwargs)
        return Done()

    cls = trainer_class()
    monkeypatch.setattr(cls, "_initialize_and_run_controller", controller)
    seen = []
    trainer = cls(lambda config: seen.append(config), train_loop_config={"x": 1},
                  scaling_config=ScalingConfig(num_workers=1), run_config=RunConfig(name="t", storage_path=str(tmp_path)))
    trainer.fit()
    assert isinstance(handed["train_fn_ref"], ByValue)
    handed["train_fn_ref"].get()()  # what each worker runs: our loop with its config
    assert seen == [{"x": 1}]
    from ray.train.v2._internal.util import ObjectRefWrapper
    from ray.train.v2.api import data_parallel_trainer

    assert data_parallel_trainer.ObjectRefWrapper is ObjectRefWrapper  # put back after fit()
    assert not ray.is_initialized()


@pytest.fixture
def gcs(monkeypatch):
    """A GCS stand-in: a listening port (connects succeed) that ``stop()`` closes (connects refused)."""
    monkeypatch.setattr(rt, "GCS_PROBE_EVERY_S", 0.4)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)

    class Gcs:
        address = "127.0.0.1:%d" % server.getsockname()[1]

        @staticmethod
        def stop_in(seconds: float) -> None:
            threading.Timer(seconds, server.close).start()

    yield Gcs
    server.close()


def test_a_gcs_that_dies_a_moment_after_the_failure_is_a_lost_cluster(gcs):
    gcs.stop_in(0.2)  # answers the first probes after fit() failed, as a head's GCS outliving its raylet
    start = time.monotonic()
    assert rt.gcs_lost(gcs.address, 0.3) is True
    assert 0.5 <= time.monotonic() - start < 3


def test_a_gcs_that_keeps_answering_keeps_the_failure_trainings_own(gcs):
    start = time.monotonic()
    assert rt.gcs_lost(gcs.address, 0.3) is False
    assert 0.4 <= time.monotonic() - start < 3  # GCS_PROBE_EVERY_S of answers, not the first one


def test_no_gcs_address_is_not_a_lost_cluster():
    assert rt.gcs_lost(None, 0.3) is False
