"""Quality-filter behaviour that mutmut showed no test pinned (bench/mutation/REPORT.md)."""

from __future__ import annotations

import numpy as np
import pytest

from contracts.records import VerdictRecord
from preprocess.filters.quality import QualityThresholds, frames_quality, rejection_reason, technical_quality


def _verdict(name: str, score: float, threshold: float) -> VerdictRecord:
    return VerdictRecord("k", name, "1", score, threshold, False)


def test_rejection_reason_points_the_comparison_the_way_the_filter_failed():
    assert rejection_reason([_verdict("sharpness", 0.03742, 0.07)]) == "sharpness: 0.03742 < 0.07"  # a minimum
    assert rejection_reason([_verdict("solid_colour", 1.0, 0.97)]) == "solid_colour: 1 > 0.97"  # a maximum
    assert rejection_reason([_verdict("some_new_filter", 0.5, 0.6)]) == "some_new_filter: 0.5 < 0.6"  # unknown: a minimum
    assert rejection_reason([VerdictRecord("k", "contrast", "1", 0.2, 0.05, True)]) is None


def test_frames_quality_of_one_frame_is_that_frame_and_of_none_is_an_error():
    frame = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert frames_quality([frame]) == technical_quality(frame)
    with pytest.raises(ValueError, match="^no frames to score$"):
        frames_quality([])


def test_thresholds_as_dict_names_every_threshold_with_its_value():
    d = QualityThresholds(min_contrast=0.2).as_dict()
    assert d["min_contrast"] == 0.2 and d["max_solid_fraction"] == 0.97 and len(d) == 6


def test_a_score_at_its_threshold_passes_both_kinds_of_filter_and_the_version_is_recorded():
    from preprocess.filters.quality import QUALITY_VERSION, quality_verdicts

    th = QualityThresholds()
    at = {"solid_fraction": th.max_solid_fraction, "contrast": th.min_contrast, "sharpness": th.min_sharpness,
          "highlight_clip": th.max_highlight_clip, "shadow_clip": th.max_shadow_clip, "colourfulness": th.min_colourfulness}
    verdicts = quality_verdicts("k", at, th)
    assert all(v.passed for v in verdicts) and {v.version for v in verdicts} == {QUALITY_VERSION}
