"""Two things a team running scheduled refreshes read (helper E's deployment walkthrough, session 55):
the summary artifact of a no-op refresh, and the worker's console while a run waits for the
catalog-writer slot."""

from __future__ import annotations

import logging

from flows.refresh import RefreshResult, summary_markdown


def test_a_no_op_refresh_summary_says_no_run_was_recorded():
    noop = summary_markdown(RefreshResult(source="/data/src", modality="image", noop=True))
    assert "- run: none (nothing new or changed: no run recorded)" in noop and "None" not in noop
    ran = summary_markdown(RefreshResult(source="/data/src", modality="image", noop=False, run_id="refresh-1"))
    assert "- run: `refresh-1`\n" in ran


def test_prefects_slot_acquisition_timeout_is_not_an_error_line_while_catalog_writer_waits(caplog):
    from flows.steps import _quiet_slot_wait_timeouts

    _quiet_slot_wait_timeouts()
    _quiet_slot_wait_timeouts()  # installed once however often a run waits
    logger = logging.getLogger("prefect._internal.concurrency")
    assert sum(type(f).__name__ == "_SlotWaitTimeout" for f in logger.filters) == 1
    with caplog.at_level(logging.ERROR, logger="prefect._internal.concurrency"):
        logger.error("Service 'ConcurrencySlotAcquisitionWithLeaseService' failed to process item "
                     "(..., raised TimeoutError)")
        logger.error("Service 'ConcurrencySlotAcquisitionWithLeaseService' failed to process item (raised HTTPStatusError)")
    assert [r.getMessage() for r in caplog.records] == [
        "Service 'ConcurrencySlotAcquisitionWithLeaseService' failed to process item (raised HTTPStatusError)"]

