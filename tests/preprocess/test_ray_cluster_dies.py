"""A Ray cluster whose head dies in the middle of a stage: the stage gives up with one line
(RayClusterLost) within seconds, on both Ray paths (tasks: contracts.ray_runtime.gather; the Ray Data
actor pool: contracts.ray_runtime.gcs_watched), instead of blocking until Ray's core worker ends the
process after its 60 s GCS timeout (exit 1, no message of ours, the catalog run left `running`).

The dead GCS is faked (the watch's probe answers "unreachable") on the suite's shared private Ray cluster
(tests/shared_ray_cluster.py; a local Ray of this module's own cost a start and a stop), joined, whose
stage waits on a flag file: nothing comes back, as from a dead cluster, and the test releases it after.
tests/flows/test_ray_cluster_dies_cli.py checks what `lumina curate` then prints, returns and records."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from contracts import ray_runtime as rt
from preprocess.runner import run_stage
from preprocess.stage import Stage
from tests.shared_ray_cluster import ray_cluster_group

pytestmark = ray_cluster_group


class WaitsForFlag(Stage):
    """Blocks each batch until the flag file exists (at most ``cap_s``): a stage whose results never come."""

    name = "waits-for-flag"
    batch_size = 1

    def __init__(self, execution: str, flag: str, cap_s: float = 20.0):
        self.execution, self.flag, self.cap_s = execution, flag, cap_s

    def process(self, batch: list) -> list:
        deadline = time.monotonic() + self.cap_s
        while not os.path.exists(self.flag) and time.monotonic() < deadline:
            time.sleep(0.05)
        return batch


@pytest.fixture
def joined_ray(ray_cluster):
    """This process joined to the shared cluster for the one test: a driver still joined once the cluster
    stopped (after the last test that needs it) is ended by Ray's core worker 60 s later, pytest with it."""
    import ray

    rt.ensure_ray(address=ray_cluster)
    yield
    ray.shutdown()


@pytest.fixture
def quick_watch(monkeypatch):
    monkeypatch.setattr(rt, "GCS_PROBE_EVERY_S", 0.1)
    monkeypatch.setattr(rt, "GCS_LOST_AFTER_S", 0.6)


@pytest.mark.parametrize("execution", ["tasks", "actors"])
def test_a_dead_gcs_ends_the_stage_in_seconds(joined_ray, quick_watch, monkeypatch, tmp_path, execution):
    import signal

    monkeypatch.setattr(rt._GcsWatch, "_answers", lambda self: False)  # the head is gone
    flag = tmp_path / "release"
    start = time.monotonic()
    # as in a process a script started in the background: SIGINT ignored (the watch once relied on it)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with pytest.raises(ConnectionError) as lost:
            run_stage(WaitsForFlag(execution, str(flag)), [1, 2], backend="ray", num_actors=1)
    finally:
        signal.signal(signal.SIGINT, previous)
        flag.touch()  # the stuck batches end, and free the CPUs for the next test
    took = time.monotonic() - start
    assert type(lost.value).__name__ == "RayClusterLost", repr(lost.value)
    text = str(lost.value)
    assert "\n" not in text and "stopped answering mid-stage" in text and "run the same command again" in text, text
    assert took < 15, f"gave up after {took:.1f} s"  # 0.6 s of probes; the stuck batches would take 20 s


@pytest.mark.parametrize("execution", ["tasks", "actors"])
def test_a_live_gcs_is_waited_for(joined_ray, quick_watch, tmp_path, execution):
    """The real probe of this Ray's GCS address answers: a stage slower than the loss window completes."""
    flag = tmp_path / "release"
    stage = WaitsForFlag(execution, str(flag), cap_s=1.5)  # over twice GCS_LOST_AFTER_S with nothing back
    assert run_stage(stage, [1, 2], backend="ray", num_actors=1) == [1, 2]
    watch = rt._GcsWatch()
    assert watch.gcs and watch._answers(), watch.gcs
