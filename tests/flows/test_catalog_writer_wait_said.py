"""A flow run waiting for the catalog-writer slot waited in silence, for ever: after a Prefect server
restart forgot the lease of a run that held it, every later refresh sat at its first catalog write
with nothing in its log (helper D's scheduled-refresh walk). Now the wait is said every
WRITER_WAIT_SAY_EVERY_S, naming the slot and how to look at it; a TimeoutError of the body is not
taken for a wait (the body runs once)."""

from __future__ import annotations

import contextlib
import logging

import pytest

import flows.steps as steps


@pytest.fixture
def in_a_flow_run(monkeypatch):
    """catalog_writer as inside a flow run, with Prefect's concurrency() replaced by one that times
    out `busy` times before it grants the slot."""
    import prefect
    import prefect.concurrency.sync as sync
    from prefect.context import FlowRunContext

    monkeypatch.setattr(FlowRunContext, "get", classmethod(lambda cls: object()))
    monkeypatch.setattr(prefect, "get_run_logger", lambda: logging.getLogger("test.run"))
    calls = []

    def fake(names, occupy=1, timeout_seconds=None, **kw):
        calls.append(timeout_seconds)

        @contextlib.contextmanager
        def slot():
            if len(calls) <= fake.busy:
                raise TimeoutError(f"Attempt to acquire concurrency slots timed out after {timeout_seconds} second(s)")
            fake.held += 1
            try:
                yield
            finally:
                fake.held -= 1
        return slot()

    fake.busy, fake.held = 0, 0
    monkeypatch.setattr(sync, "concurrency", fake)
    return fake, calls


def test_a_wait_for_the_slot_is_said_then_the_write_goes_on(in_a_flow_run, caplog):
    fake, calls = in_a_flow_run
    fake.busy = 2
    ran = []
    with caplog.at_level(logging.WARNING, logger="test.run"):
        with steps.catalog_writer():
            ran.append(fake.held)
    said = [r.getMessage() for r in caplog.records if r.name == "test.run"]
    every = steps.WRITER_WAIT_SAY_EVERY_S
    assert ran == [1] and fake.held == 0 and calls == [every] * 3
    assert len(said) == 2 and said[0].startswith(f"waiting {every:.0f} s for the lumina-catalog-writer slot: ")
    assert said[1].startswith(f"waiting {2 * every:.0f} s for the") and "prefect gcl inspect lumina-catalog-writer" in said[1]


def test_a_timeout_inside_the_write_is_raised_not_waited_on(in_a_flow_run, caplog):
    fake, calls = in_a_flow_run
    runs = []
    with pytest.raises(TimeoutError, match="the body's"):
        with steps.catalog_writer():
            runs.append(1)
            raise TimeoutError("the body's")
    assert runs == [1] and len(calls) == 1 and fake.held == 0
    assert "waiting" not in caplog.text
