"""Every modality's near-duplicate order puts a candidate an earlier run kept (Candidate.kept_before)
before a better-ranked new copy, so curating a folder again keeps what was kept."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from preprocess.image.dedup import _best_first
from preprocess.speech.dedup import preference as speech_preference
from preprocess.video.dedup import preference as video_preference


def _cand(name: str, kept_before: bool, **meta):
    return SimpleNamespace(record=SimpleNamespace(meta=meta, key=name), source=SimpleNamespace(name=name),
                           signature=SimpleNamespace(preference=(meta.get("q", 0),)), kept_before=kept_before)


@pytest.mark.parametrize("order, better, worse", [
    (_best_first, {"q": 90}, {"q": 10}),  # image and multi-view: higher quality first
    (video_preference, {"original_size": [640, 480]}, {"original_size": [64, 48]}),  # video: more pixels first
    (speech_preference, {"original_sample_rate": 48000}, {"original_sample_rate": 16000}),  # speech: higher rate first
])
def test_the_earlier_runs_kept_copy_comes_first(order, better, worse):
    new, kept = _cand("a", False, **better), _cand("b", True, **worse)
    assert sorted([new, kept], key=order)[0] is kept
    assert sorted([_cand("a", False, **better), _cand("b", False, **worse)], key=order)[0].record.key == "a"  # else as before
