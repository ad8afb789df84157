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



def test_a_failed_refresh_writes_a_summary_that_says_so(tmp_path, monkeypatch):
    """A refresh whose source had gone wrote no summary: the Prefect UI's latest refresh-summary was
    the previous success's (helper E's walkthrough, the source folder moved away)."""
    import prefect.artifacts
    import pytest

    from flows import refresh
    from preprocess.sources import SourceError

    artifacts = {}
    monkeypatch.setattr(prefect.artifacts, "create_progress_artifact", lambda **kw: "progress")
    monkeypatch.setattr(prefect.artifacts, "update_progress_artifact", lambda **kw: None)
    monkeypatch.setattr(prefect.artifacts, "create_markdown_artifact", lambda key, markdown, **kw: artifacts.update({key: markdown}))
    monkeypatch.setattr(refresh, "get_run_logger", lambda: logging.getLogger("test.refresh_flow"))
    gone = tmp_path / "src"
    with pytest.raises(SourceError):
        refresh.refresh_flow.fn(source=str(gone), home=str(tmp_path / "home"), backend="local")
    summary = artifacts["refresh-summary-image-src"]
    assert summary.startswith("# refresh (image): failed") and f"- source: `{gone}`" in summary, summary
    assert f"- error: SourceError: source not found: {gone}" in summary, summary


def test_the_summary_names_each_live_manifest_version_as_lumina_refresh_prints_it():
    """The summary artifact showed `- live manifests: [{'manifest': 'noise@v2', ...}]`."""
    versions = [{"manifest": "noise@v2", "members": 7, "previous_members": 4, "train_due": True, "added_since_training": 3}]
    ran = summary_markdown(RefreshResult(source="/data/src", modality="image", noop=False, run_id="r", manifests=versions))
    assert "- live manifests: noise@v2  7 members (was 4), training due (3 new members)\n" in ran
    assert "- live manifests: none\n" in summary_markdown(RefreshResult(source="/data/src", modality="image", noop=False, run_id="r"))
