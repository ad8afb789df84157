"""gcs_watched raises RayClusterLostInterrupt into the main thread wherever it is, and the code there may
turn it into an error of its own: once (as a RayClusterLost) it landed in inspect.getfullargspec while
Ray Data started an actor, inspect made it TypeError("unsupported callable"), Ray Data wrapped that, and
`lumina curate` ended with a traceback instead of the lost cluster's one line, exit 2; once (CI, 7 Dec
2026) it landed in Ray's deserializer, which logged it with its traceback. A BaseException, it passes
code that catches Exception; once the watch has tripped, whatever error ends the block is RayClusterLost,
the original its __cause__; before a trip, errors pass as they are."""

from __future__ import annotations

import time

import pytest

from contracts import ray_runtime
from contracts.ray_runtime import RayClusterLost, RayClusterLostInterrupt, gcs_watched


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


# A trip that does not land lets these waits run out: 20 s each, against bounds of 10 s that a loaded
# 2-core host running 3 pytest workers still meets when it lands
MISSED_TRIP_S = 20


def _getfullargspec_like() -> None:
    """As inspect.getfullargspec does with any exception raised inside it."""
    try:
        _wait(MISSED_TRIP_S)
    except Exception as ex:
        raise TypeError("unsupported callable") from ex


def _wraps_everything() -> None:
    """Code that catches even a BaseException and raises an error of its own."""
    try:
        _wait(MISSED_TRIP_S)
    except BaseException as ex:
        raise TypeError("unsupported callable") from ex


def test_code_that_catches_exception_lets_the_trip_through(monkeypatch, caplog):
    """Ray's deserialize_objects: `except Exception as e: logger.exception(e)` around the wait."""
    import logging

    monkeypatch.setattr(ray_runtime, "_GcsWatch", _DeadGcs)
    monkeypatch.setattr(ray_runtime, "GCS_PROBE_EVERY_S", 0.05)
    logger = logging.getLogger("ray._private.serialization")
    start = time.monotonic()
    with caplog.at_level(logging.ERROR), pytest.raises(RayClusterLost) as lost:
        with gcs_watched():
            try:
                _wait(MISSED_TRIP_S)
            except Exception as e:
                logger.exception(e)
            _getfullargspec_like()
    assert time.monotonic() - start < 10, "the trip did not land"
    assert caplog.records == [] and lost.value.__cause__ is None, (caplog.text, repr(lost.value.__cause__))
    assert "stopped answering mid-stage" in str(lost.value)


def test_an_error_made_of_the_trip_ends_the_block_as_the_lost_cluster(monkeypatch):
    monkeypatch.setattr(ray_runtime, "_GcsWatch", _DeadGcs)
    monkeypatch.setattr(ray_runtime, "GCS_PROBE_EVERY_S", 0.05)
    start = time.monotonic()
    with pytest.raises(RayClusterLost) as lost:
        with gcs_watched():
            _wraps_everything()
    assert time.monotonic() - start < 10, "the trip did not land"
    assert "stopped answering mid-stage" in str(lost.value)
    assert isinstance(lost.value.__cause__, TypeError), repr(lost.value.__cause__)
    assert isinstance(lost.value.__cause__.__cause__, RayClusterLostInterrupt)
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
                _wraps_everything()
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
            except RayClusterLostInterrupt:
                raise KeyboardInterrupt from None
