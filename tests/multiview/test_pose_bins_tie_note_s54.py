"""A user's held-out manifest of two sets, one of 4 views and one of 6 (2026-12-07 walkthrough),
was scored with 6 pose bins, and metrics.json said they were 'the most common view count': each
count had one set. The note now says the bins are the largest of the tied counts."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

from evaluation.multiview.metrics import _note_mixed_sets


def _note(counts: Counter, bins: int) -> str:
    ctx = SimpleNamespace(notes=[])
    _note_mixed_sets(ctx, counts, bins, None, 1)
    return ctx.notes[0]


def test_a_tie_of_view_counts_is_not_called_the_most_common():
    said = _note(Counter({4: 1, 6: 1}), 6)
    assert "the 2 sets have 2 view counts (1 of 4 views, 1 of 6 views)" in said
    assert "6 azimuth bins of 60 degrees (the largest of the view counts 4 and 6, 1 set each; pose_chance 1/6)" in said
    assert "most common" not in said
    said = _note(Counter({4: 3, 6: 3, 8: 1}), 6)
    assert "(the largest of the view counts 4 and 6, 3 sets each; pose_chance 1/6)" in said


def test_a_count_held_by_more_sets_is_still_the_most_common():
    said = _note(Counter({4: 3, 6: 1}), 4)
    assert "4 azimuth bins of 90 degrees (the most common view count; pose_chance 1/4)" in said
