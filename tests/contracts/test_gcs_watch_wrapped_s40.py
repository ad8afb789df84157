"""gcs_watched raises RayClusterLost into the main thread wherever it is, and the code there may turn it
into an error of its own: once it landed in inspect.getfullargspec while Ray Data started an actor,
inspect made it TypeError("unsupported callable"), Ray Data wrapped that, and `lumina curate` ended
with a traceback instead of the lost cluster's one line, exit 2. Once the watch has tripped, whatever
error ends the block is RayClusterLost, the original its __cause__; before a trip, errors pass as they are."""

from __future__ import annotations

import time

import pytest

from contracts import ray_runtime
from contracts.ray_runtime import RayClusterLost, gcs_watched


class _DeadGcs:
    gcs = "127.0.0.1:1"

    def check(self) -> None:
        raise RayClusterLost("the Ray cluster at 127.0.0.1:1 stopped answering mid-stage")


class _LiveGcs(_DeadGcs):
    def check(self) -> None:
        return None


def _wait(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.01)


def _getfullargspec_like() -> None:
    """As inspect.getfullargspec does with any exception raised inside it."""
    try:
        _wait(5)
    except Exception as ex:
        raise TypeError("unsupported callable") from ex


def test_an_error_made_of_the_trip_ends_the_block_as_the_lost_cluster(monkeypatch):
    monkeypatch.setattr(ray_runtime, "_GcsWatch", _DeadGcs)
    monkeypatch.setattr(ray_runtime, "GCS_PROBE_EVERY_S", 0.05)
    start = time.monotonic()
    with pytest.raises(RayClusterLost) as lost:
        with gcs_watched():
            _getfullargspec_like()
    assert time.monotonic() - start < 4, "the trip did not land"
    assert "stopped answering mid-stage" in str(lost.value)
    assert isinstance(lost.value.__cause__, TypeError), repr(lost.value.__cause__)
    assert isinstance(lost.value.__cause__.__cause__, RayClusterLost)
    _wait(0.3)  # the watch has stopped: no late RayClusterLost here


def test_an_error_wrapped_outside_the_landing_spot_is_the_lost_cluster_too(monkeypatch):
    """Ray Data's handle_trace re-raises the TypeError with a SystemException as its cause."""

    class SystemException(Exception):
        pass

    monkeypatch.setattr(ray_runtime, "_GcsWatch", _DeadGcs)
    monkeypatch.setattr(ray_runtime, "GCS_PROBE_EVERY_S", 0.05)
    with pytest.raises(RayClusterLost) as lost:
        with gcs_watched():
            try:
                _getfullargspec_like()
            except TypeError as e:
                raise e.with_traceback(None) from SystemException()
    assert isinstance(lost.value.__cause__, TypeError)


def test_an_error_before_any_trip_passes_as_it_is(monkeypatch):
    monkeypatch.setattr(ray_runtime, "_GcsWatch", _LiveGcs)
    monkeypatch.setattr(ray_runtime, "GCS_PROBE_EVERY_S", 0.05)
    with pytest.raises(TypeError, match="a stage's own bug"):
        with gcs_watched():
            _wait(0.2)  # probes answer meanwhile
            raise TypeError("a stage's own bug")


def test_ctrl_c_after_a_trip_stays_keyboard_interrupt(monkeypatch):
    monkeypatch.setattr(ray_runtime, "_GcsWatch", _DeadGcs)
    monkeypatch.setattr(ray_runtime, "GCS_PROBE_EVERY_S", 0.05)
    with pytest.raises(KeyboardInterrupt):
        with gcs_watched():
            try:
                _wait(5)
            except RayClusterLost:
                raise KeyboardInterrupt from None
