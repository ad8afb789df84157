"""The `refresh-summary` artifact (what the Prefect UI's Artifacts tab shows of a refresh) had the
counts but none of the run's notes, which the flow logs as warnings: a training due and how to start
it, a live manifest that selects nothing now, options that differ from the last curation."""

from __future__ import annotations

from flows.refresh import RefreshResult, summary_markdown


def test_the_summary_artifact_carries_the_runs_notes():
    due = "training on image-train-live is due (7 new members) and stays due: lumina train --manifest image-train-live@v3"
    result = RefreshResult("/data/raw/images", "image", True, notes=["nothing new or changed in the source (44 entries)", due])
    markdown = summary_markdown(result)
    assert "## Notes" in markdown and f"- {due}" in markdown, markdown
    assert "## Notes" not in summary_markdown(RefreshResult("/data/raw/images", "image", True))
