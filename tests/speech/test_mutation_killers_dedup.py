"""Near-duplicate speech takes, pinned on hand-made fingerprints (bench/mutation/REPORT.md, module
speech_curation): the fingerprint's bands, the offsets and overlap the distance allows, and which of
several near-identical takes is kept, with the verdict and reason each one gets."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from contracts.records import SampleRecord
from preprocess.modality import Candidate
from preprocess.speech.dedup import BANDS, FILTER_VERSION, MAX_OFFSET, distance, fingerprint, mark_near_duplicates

# --- fingerprint and distance ---------------------------------------------------------------


def test_fingerprint_is_the_mean_of_each_band_of_mel_rows_and_drops_the_remainder():
    w = 5
    rows = np.repeat(np.arange(83, dtype=np.float32)[:, None], w, axis=1)  # row i holds i
    rows[80:] = 1000.0  # the 3 rows past 4 x 20 belong to no band
    fp = fingerprint(rows)
    assert fp.dtype == np.float16 and fp.shape == (BANDS, w)
    np.testing.assert_array_equal(fp[:, 0], (4 * np.arange(20) + 1.5).astype(np.float16))  # rows 4j .. 4j+3
    assert (fp == fp[:, :1]).all()  # frames stay frames


def _clip(w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (BANDS, w)).astype(np.float16)


def test_a_take_starting_up_to_three_frames_earlier_or_later_is_the_same_take():
    a = _clip(40)
    for shift in range(1, MAX_OFFSET + 1):
        assert distance(a[:, shift:], a) == 0.0  # a starts `shift` frames later
        assert distance(a, a[:, shift:]) == 0.0
    assert MAX_OFFSET == 3
    assert distance(a[:, 4:], a) > 0.5 and distance(a, a[:, 4:]) > 0.5  # 4 frames apart: not aligned


def test_the_distance_is_the_mean_absolute_difference_at_the_best_offset():
    a = np.zeros((BANDS, 10), np.float16)
    b = a.copy()
    b[0, :] = 0.5  # one band of 20 differs by 0.5 everywhere
    assert distance(a, b) == pytest.approx(0.5 / BANDS)
    assert distance(b, a) == pytest.approx(0.5 / BANDS)


def test_clips_overlapping_fewer_than_four_frames_are_not_compared():
    assert distance(np.zeros((BANDS, 4), np.float16), np.ones((BANDS, 4), np.float16)) == 1.0
    assert distance(np.zeros((BANDS, 3), np.float16), np.zeros((BANDS, 3), np.float16)) == float("inf")


# --- mark_near_duplicates ---------------------------------------------------------------------


def _cand(key: str, level: float, dur: float = 1.0, source: str | None = None, status: str = "accepted",
          signed: bool = True) -> Candidate:
    rec = SampleRecord(key=key, modality="speech", source_uri=key, status=status, caption="seven",
                       reason=None if status == "accepted" else "snr: score 3 vs threshold 10")
    fp = np.full((BANDS, 20), level, np.float16)
    return Candidate(rec, [], SimpleNamespace(name=source) if source else None, (fp, dur) if signed else None)


def _verdict(c: Candidate):
    (v,) = [v for v in c.verdicts if v.filter == "audio_fingerprint_dedup"]
    return v


def test_the_later_of_two_takes_by_file_name_is_rejected_naming_the_kept_one():
    later, first = _cand("aaaa", 0.0, source="take2.wav"), _cand("zzzz", 0.1, source="take1.wav")
    mark_near_duplicates([later, first], 0.15)
    assert first.accepted and first.record.reason is None and "near_duplicate_of" not in first.record.meta
    v = _verdict(first)
    assert (v.key, v.version, v.score, v.threshold, v.passed) == ("zzzz", FILTER_VERSION, 99.0, 0.15, True)  # nothing to compare
    assert later.record.status == "rejected"
    assert later.record.reason == "audio_fingerprint_dedup: near duplicate of zzzz (distance 0.100)"
    assert later.record.meta["near_duplicate_of"] == "zzzz"
    v = _verdict(later)
    assert (v.key, v.version, v.threshold, v.passed) == ("aaaa", "2", 0.15, False)
    assert v.score == pytest.approx(0.1, abs=1e-3)


def test_without_a_source_name_and_with_equal_names_the_key_orders_the_takes():
    nameless, named = _cand("zzzz", 0.0, source=None), _cand("aaaa", 0.0, source="0001.wav")
    mark_near_duplicates([named, nameless], 0.15)
    assert nameless.accepted and named.record.meta["near_duplicate_of"] == "zzzz"  # no name sorts before any name
    b, a = _cand("bbbb", 0.0, source="x.wav"), _cand("aaaa", 0.0, source="x.wav")
    mark_near_duplicates([b, a], 0.15)
    assert a.accepted and b.record.meta["near_duplicate_of"] == "aaaa"


def test_a_take_exactly_at_the_threshold_distance_is_a_duplicate():
    a, b = _cand("a", 0.0), _cand("b", 0.1)
    at = distance(a.signature[0], b.signature[0])
    mark_near_duplicates([a, b], at)
    assert b.record.status == "rejected" and _verdict(b).score == at
    c, d = _cand("c", 0.0), _cand("d", 0.1)
    mark_near_duplicates([c, d], np.nextafter(at, 0.0))
    assert d.accepted and _verdict(d).passed


def test_only_takes_within_a_tenth_of_each_others_length_are_compared():
    a, b = _cand("a", 0.0, dur=10.0), _cand("b", 0.0, dur=9.0)  # 1 s apart, a tenth of the longer: compared
    mark_near_duplicates([a, b], 0.15)
    assert b.record.meta["near_duplicate_of"] == "a"
    c, d = _cand("c", 0.0, dur=10.0), _cand("d", 0.0, dur=8.99)
    mark_near_duplicates([c, d], 0.15)
    assert c.accepted and d.accepted and _verdict(d).score == 99.0
    e, f = _cand("e", 0.0, dur=9.0), _cand("f", 0.0, dur=10.0)  # the same pair, the shorter one first
    mark_near_duplicates([e, f], 0.15)
    assert f.record.meta["near_duplicate_of"] == "e"


def test_the_nearest_kept_take_is_named_and_the_first_of_equally_near_ones():
    a, b, c = _cand("a", 0.0), _cand("b", 0.2), _cand("c", 0.1)  # c is 0.1 from both, a and b 0.2 apart
    mark_near_duplicates([a, b, c], 0.15)
    assert a.accepted and b.accepted and c.record.meta["near_duplicate_of"] == "a"
    d, e, f = _cand("d", 0.0), _cand("e", 0.2), _cand("f", 0.14)  # f is nearer e
    mark_near_duplicates([d, e, f], 0.15)
    assert f.record.meta["near_duplicate_of"] == "e" and _verdict(f).score == pytest.approx(0.06, abs=2e-3)


def test_a_rejected_duplicate_is_no_original_for_later_takes():
    a, b, c = _cand("a", 0.0), _cand("b", 0.1), _cand("c", 0.2)  # b is 0.1 from a; c 0.1 from b, 0.2 from a
    mark_near_duplicates([a, b, c], 0.15)
    assert [x.record.status for x in (a, b, c)] == ["accepted", "rejected", "accepted"]
    assert _verdict(c).passed and _verdict(c).score == pytest.approx(0.2, abs=1e-3)


def test_rejected_and_unsigned_takes_are_left_alone():
    gone = _cand("a", 0.0, status="rejected")
    unsigned = _cand("b", 0.0, signed=False)
    kept = _cand("c", 0.0)
    mark_near_duplicates([gone, unsigned, kept], 0.15)
    assert gone.verdicts == [] and unsigned.verdicts == [] and unsigned.accepted
    assert gone.record.reason == "snr: score 3 vs threshold 10"
    assert kept.accepted and _verdict(kept).score == 99.0
