"""gcs_watched raises RayClusterLostInterrupt into the main thread wherever it waits. Code that swallows
what it catches may take it where it lands: once it landed in a tqdm bar's __del__ and the stage waited
on ('DID NOT RAISE'). The watch trips again until the block ends, and Python's "Exception ignored" report
of a trip a __del__ swallowed is not printed."""

from __future__ import annotations

import time

import pytest

from contracts import ray_runtime
from contracts.ray_runtime import RayClusterLost, RayClusterLostInterrupt, gcs_watched


class _DeadGcs:
    gcs = "127.0.0.1:1"

    def check(self) -> None:
        raise RayClusterLost("the Ray cluster at 127.0.0.1:1 stopped answering mid-stage")


def _wait(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.01)


def test_a_swallowed_cluster_loss_is_raised_again(monkeypatch):
    monkeypatch.setattr(ray_runtime, "_GcsWatch", _DeadGcs)
    monkeypatch.setattr(ray_runtime, "GCS_PROBE_EVERY_S", 0.05)
    swallowed = 0
    with pytest.raises(RayClusterLost):
        with gcs_watched():
            try:
                _wait(5)
            except RayClusterLostInterrupt:  # as a __del__ would: taken and dropped
                swallowed += 1
            _wait(5)
    assert swallowed == 1


def test_nothing_is_raised_once_the_block_has_ended(monkeypatch):
    monkeypatch.setattr(ray_runtime, "_GcsWatch", _DeadGcs)
    monkeypatch.setattr(ray_runtime, "GCS_PROBE_EVERY_S", 0.05)
    with pytest.raises(RayClusterLost):
        with gcs_watched():
            _wait(5)
    _wait(0.3)  # the probe thread has stopped: no late RayClusterLost here


def test_a_trip_a_del_swallowed_is_not_reported(monkeypatch):
    """Before, Python printed "Exception ignored in: ... Traceback" to stderr: not the one line."""
    import sys

    reports = []
    monkeypatch.setattr(sys, "unraisablehook", reports.append)
    monkeypatch.setattr(ray_runtime, "_GcsWatch", _DeadGcs)
    monkeypatch.setattr(ray_runtime, "GCS_PROBE_EVERY_S", 0.05)

    class WaitsWhenDropped:
        def __del__(self):
            _wait(5)  # the first trip lands here

    with pytest.raises(RayClusterLost):
        with gcs_watched():
            WaitsWhenDropped()  # dropped at once: __del__ runs here
            _wait(5)  # the next trip
    assert reports == []
    other = ValueError("not a trip")  # any other unraisable error still reaches the hook
    with pytest.raises(RayClusterLost):
        with gcs_watched():
            sys.unraisablehook(type("Report", (), {"exc_value": other})())
            _wait(5)
    assert [r.exc_value for r in reports] == [other] and sys.unraisablehook == reports.append
