"""Speech near-duplicate marking, version 3 (preprocess/speech/dedup.py): the search radius is the
threshold. Within it the score is the exact distance to the nearest kept take, as comparing every pair
gives it; beyond it the score is the least float above the threshold (a take is a near copy iff its
distance is at most the threshold, so score <= threshold still means rejected); 99.0 with nothing to
compare with. Statuses, reasons and matched keys are those of comparing every pair."""

from __future__ import annotations

import math

import numpy as np
import pytest

from preprocess.speech import dedup
from preprocess.speech.dedup import BANDS, distance, mark_near_duplicates
from tests.speech.test_scale_dedup import FPS, _brute_force, _cand, _marked, _speech_like


def _copies_corpus(seed: int) -> tuple[list, dict]:
    """Distinct takes and of each some copies: starting 1 - 3 frames later or earlier (offsets -3 .. 3),
    4 frames later (no offset aligns them), noisy (0.02 - 0.4 apart), 4 - 9% longer or shorter in
    duration (compared) and 11 - 14% (not compared). Returns the takes and, by key, what each copies."""
    rng = np.random.default_rng(seed)
    out, of = [], {}

    def add(fp, dur, base_key=None):
        key = f"k{int(rng.integers(0, 10**6)):06d}_{len(out):03d}"
        out.append(_cand(key, fp, dur))
        if base_key:
            of[key] = base_key
        return key

    for _ in range(14):
        w = int(rng.integers(60, 130))
        base = _speech_like(rng, w + 3)  # 3 frames more, to start a copy earlier
        f32 = base.astype(np.float32)
        k = add(base[:, 3:], w / FPS)
        for s in (0, 1, 2):  # the copy starts 3 - s frames earlier: an offset of -(3 - s)
            noisy = (f32[:, s:] + rng.normal(0, 0.03, f32[:, s:].shape)).astype(np.float16)
            add(noisy, noisy.shape[1] / FPS, k)
        for s in (4, 5, 6, 7):  # 1 - 3 frames later (offsets 1 .. 3), and 4 later: not aligned
            add(base[:, s:].copy(), (w + 3 - s) / FPS, k)
        for sigma in rng.uniform(0.02, 0.4, 2):
            add((f32[:, 3:] + rng.normal(0, sigma, (BANDS, w))).astype(np.float16), w / FPS, k)
        for stretch in (rng.uniform(1.04, 1.09), rng.uniform(0.91, 0.96), rng.uniform(1.11, 1.14), rng.uniform(0.86, 0.89)):
            add((f32[:, 3:] + rng.normal(0, 0.05, (BANDS, w))).astype(np.float16), w / FPS * stretch, k)
    rng.shuffle(out)
    return out, of


def test_statuses_reasons_keys_and_scores_within_the_threshold_are_what_every_pair_gives_at_each_offset_and_duration():
    for seed, threshold in ((0, 0.15), (1, 0.15), (2, 0.25)):
        cands, _ = _copies_corpus(seed)
        raw: dict = {}
        want = _brute_force(cands, threshold, raw)
        mark_near_duplicates(cands, threshold)
        got = _marked(cands)
        assert got == want, seed
        beyond = math.nextafter(threshold, math.inf)
        for (status, _, _, score, passed), c in zip(got, cands):
            d = raw[c.record.key]
            assert (status == "rejected") == (d <= threshold) == (not passed) == (score <= threshold)
            assert score == (d if d <= threshold else 99.0 if d == math.inf else beyond), (c.record.key, d, score)
        assert sum(s == "rejected" for s, *_ in want) >= 40  # copies found, and
        assert sum(threshold < d < 0.5 for d in raw.values()) >= 5  # takes version 2 scored exactly, now beyond
        assert sum(w[3] == beyond for w in want) >= 20
    # each copy with its take alone: rejected iff within a tenth in duration and 0.15 in distance
    cands, of = _copies_corpus(3)
    by_key = {c.record.key: c for c in cands}
    kinds = {"near": 0, "far": 0}
    for k, base in of.items():
        (fa, da), (fb, db) = by_key[k].signature, by_key[base].signature
        within = abs(da - db) <= 0.1 * max(da, db)
        near = within and distance(fa, fb) <= 0.15
        a, b = _cand("a", fb, db), _cand("b", fa, da)
        mark_near_duplicates([b, a], 0.15)
        assert a.accepted and b.accepted != near, (k, base)
        assert _marked([b])[0][3] == (distance(fa, fb) if near else dedup.beyond(0.15) if within else 99.0)
        kinds["near" if near else "far"] += 1
    assert kinds["near"] >= 14 * 7 and kinds["far"] >= 14 * 3  # 6 offsets, 0, a tenth; not aligned, outside it


def test_a_copy_right_at_the_threshold_is_rejected_and_one_just_beyond_it_scores_just_above_it():
    rng = np.random.default_rng(5)
    base = _speech_like(rng, 90)
    copy = (base.astype(np.float32) + rng.normal(0, 0.1, base.shape)).astype(np.float16)
    d = distance(copy, base)
    assert 0.05 < d < 0.15
    a, b = _cand("a", base), _cand("b", copy)
    mark_near_duplicates([a, b], d)
    assert _marked([a, b]) == [("accepted", None, None, 99.0, True),
                               ("rejected", f"audio_fingerprint_dedup: near duplicate of a (distance {d:.3f})", "a", d, False)]
    below = math.nextafter(d, 0.0)
    a, b = _cand("a", base), _cand("b", copy)
    mark_near_duplicates([a, b], below)
    assert _marked([b]) == [("accepted", None, None, math.nextafter(below, 1.0), True)]
    assert math.nextafter(below, 1.0) == d  # the score says: nothing at the threshold or nearer
    a, b = _cand("a", base), _cand("b", copy)
    mark_near_duplicates([a, b], d / 2)  # further beyond the threshold: still the least float above it, not d
    assert _marked([b]) == [("accepted", None, None, math.nextafter(d / 2, 1.0), True)]


def test_the_score_beyond_the_threshold_is_the_least_float_above_it_whatever_the_distance():
    rng = np.random.default_rng(6)
    base = _speech_like(rng, 100)
    for sigma, threshold in ((0.3, 0.15), (1.5, 0.15), (0.3, 0.0), (0.3, 0.05)):
        far = (base.astype(np.float32) + rng.normal(0, sigma, base.shape)).astype(np.float16)
        assert distance(far, base) > 0.2
        a, b = _cand("a", base), _cand("b", far)
        mark_near_duplicates([a, b], threshold)
        (_, _, _, score, passed), = _marked([b])
        assert passed and score == math.nextafter(threshold, math.inf) and score > threshold
        assert score == dedup.beyond(threshold)
    a, b = _cand("a", base), _cand("b", base.copy())  # threshold 0: an exact copy is still one
    mark_near_duplicates([a, b], 0.0)
    assert _marked([b]) == [("rejected", "audio_fingerprint_dedup: near duplicate of a (distance 0.000)", "a", 0.0, False)]


def test_the_search_stops_at_the_threshold(monkeypatch):
    """A take 0.25 - 0.45 from the only kept one (version 2: compared in full, within its cap of 0.5) is
    ruled out by its lower bound at the threshold 0.15 without the full distance; at a threshold of 0.5
    the same pair is compared and the take rejected."""
    rng = np.random.default_rng(7)
    level = rng.integers(-24, -8, BANDS) / 4
    base = np.repeat(level[:, None], 120, 1).astype(np.float16)
    far = (base.astype(np.float32) + np.where(rng.permutation(BANDS) < 10, 0.3125, -0.3125)[:, None]).astype(np.float16)
    d = distance(far, base)
    assert 0.25 < d < 0.45
    calls = []
    real = dedup.distance
    monkeypatch.setattr(dedup, "distance", lambda x, y: calls.append(1) or real(x, y))
    a, b = _cand("a", base), _cand("b", far)
    mark_near_duplicates([a, b], 0.15)
    assert calls == [] and _marked([b]) == [("accepted", None, None, dedup.beyond(0.15), True)]
    a, b = _cand("a", base), _cand("b", far)
    mark_near_duplicates([a, b], 0.5)
    assert len(calls) == 1 and _marked([b])[0][3] == pytest.approx(d, abs=0) and not b.accepted
