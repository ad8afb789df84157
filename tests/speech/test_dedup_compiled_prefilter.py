"""The compiled prefilter of preprocess/speech/dedup.py (``_Bucket.far``: lower_bounds' levels in a
loop that stops early; ``apart``: the distance against a limit, stopped early) changes the work, not
the marking: forced on every window here, the statuses, reasons, matched keys and scores are what
comparing every pair in full gives, within one run and against the takes earlier runs kept, and every
planted near copy is found naming its original."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from contracts.records import SampleRecord
from preprocess.modality import Candidate
from preprocess.speech import dedup
from preprocess.speech.dedup import BANDS, distance, mark_near_duplicates
from preprocess.speech.kept_takes import KeptTake

FPS = 1 / 0.0116  # fingerprint frames per second


def _speech_like(rng: np.random.Generator, w: int) -> np.ndarray:
    """Runs of 4-15 frames at one spectrum (smooth across bands), 5% pauses, a little noise."""
    out = np.empty((BANDS, w), np.float32)
    t = 0
    while t < w:
        run = int(rng.integers(4, 16))
        level = np.full(BANDS, -8.5) if rng.random() < 0.05 else np.convolve(rng.normal(-5, 2, BANDS), [0.25, 0.5, 0.25], "same")
        out[:, t : t + run] = level[:, None]
        t += run
    return (out + rng.normal(0, 0.3, out.shape)).astype(np.float16)


def _cand(key: str, fp: np.ndarray, dur: float) -> Candidate:
    rec = SampleRecord(key=key, modality="speech", source_uri=f"/c/{key}", split="train", status="accepted", caption="x", meta={})
    return Candidate(rec, [], SimpleNamespace(name=f"{key}.wav"), (fp, dur))


def _copy(rng: np.random.Generator, fp: np.ndarray, dur: float) -> tuple[np.ndarray, float]:
    """A near copy: noise 0.02 - 0.08, maybe 1 - 3 frames later, 0 - 3% longer (within the threshold)."""
    f32 = fp.astype(np.float32)[:, int(rng.integers(0, 4)) :]
    return (f32 + rng.normal(0, rng.uniform(0.02, 0.08), f32.shape)).astype(np.float16), dur * rng.uniform(1.0, 1.03)


def _near_miss(rng: np.random.Generator, fp: np.ndarray, dur: float) -> tuple[np.ndarray, float]:
    """Scored within the cap but not a copy: noise 0.3 - 0.5 (distance 0.2 - 0.5)."""
    f32 = fp.astype(np.float32)
    return (f32 + rng.normal(0, rng.uniform(0.3, 0.5), f32.shape)).astype(np.float16), dur


def _brute_force(takes: list, kept: list, max_distance: float) -> dict[str, tuple]:
    """Every earlier take of a similar length in full, the first of the nearest; kept takes first;
    the score capped as version 2 documents (99.0 with nothing to compare)."""
    cap = max(dedup.SCORE_CAP, 2.0 * max_distance)
    index, out = [(k.record.key, *k.signature) for k in kept], {}
    for c in sorted(takes, key=dedup.preference):  # no metadata: the name order
        fp, dur = c.signature
        best, best_d = None, math.inf
        for key, ofp, odur in index:
            if abs(dur - odur) <= 0.1 * max(dur, odur):
                d = distance(fp, ofp)
                if d < best_d:
                    best, best_d = key, d
        score = 99.0 if best_d == math.inf else min(best_d, cap)
        if best_d <= max_distance:
            out[c.record.key] = ("rejected", f"audio_fingerprint_dedup: near duplicate of {best} (distance {best_d:.3f})", best, score, False)
        else:
            out[c.record.key] = ("accepted", None, None, score, True)
            index.append((c.record.key, fp, dur))
    return out


def _marked(takes: list) -> dict[str, tuple]:
    out = {}
    for c in takes:
        (v,) = [v for v in c.verdicts if v.filter == "audio_fingerprint_dedup"]
        out[c.record.key] = (c.record.status, c.record.reason, c.record.meta.get("near_duplicate_of"), v.score, v.passed)
    return out


def _corpus(seed: int, n: int, prefix: str) -> tuple[list, dict]:
    """``n`` distinct takes of 0.55 - 0.75 s (one window holds most of them), and of one in six a near
    copy named to come after it (``{prefix}z``), of one in eight a near miss, and of one in ten a take
    exactly as near two earlier ones (raised by 1/8, float16-exact: a tie; the first must be named
    though the second's bound is lower, so it is compared first): copy key -> the key it must name."""
    rng = np.random.default_rng(seed)
    takes, planted = [], {}
    for i in range(n):
        w = int(rng.integers(48, 66))
        fp, dur = _speech_like(rng, w), w / FPS
        takes.append(_cand(f"{prefix}a{i:04d}", fp, dur))
        if i % 6 == 0:
            takes.append(_cand(f"{prefix}z{i:04d}", *_copy(rng, fp, dur)))
            planted[f"{prefix}z{i:04d}"] = f"{prefix}a{i:04d}"
        if i % 8 == 3:
            takes.append(_cand(f"{prefix}m{i:04d}", *_near_miss(rng, fp, dur)))
        if i % 10 == 5:  # a steady centre 1/8 from both; the second, lowered on 2 frames of 3, has the lower bound
            centre = np.repeat(rng.integers(-60, -8, BANDS)[:, None] / 8, w, 1)
            wavy = np.where(np.arange(w) % 3 == 0, 1.0, -1.0)
            for name, signs in (("u", 1.0), ("w", wavy)):  # 1/6 apart: both kept, before the centre
                takes.append(_cand(f"{prefix}b{i:04d}{name}", (centre + signs / 8).astype(np.float16), dur))
            takes.append(_cand(f"{prefix}y{i:04d}", centre.astype(np.float16), dur))
            planted[f"{prefix}y{i:04d}"] = f"{prefix}b{i:04d}u"
    rng.shuffle(takes)
    return takes, planted


@pytest.fixture
def compiled_everywhere(monkeypatch):
    """The prefilter on every window (it waits for FAR_MIN_ROWS rows otherwise), the rows it saw counted."""
    monkeypatch.setattr(dedup, "FAR_MIN_ROWS", 1)
    calls = []
    far = dedup._Bucket.far
    monkeypatch.setattr(dedup._Bucket, "far", lambda self, q, rows, cap: calls.append(len(rows)) or far(self, q, rows, cap))
    return calls


def test_within_a_run_the_prefilter_marks_what_comparing_every_pair_gives(compiled_everywhere, monkeypatch):
    takes, planted = _corpus(1, 150, "")
    want = _brute_force(takes, [], 0.15)
    calls = []
    monkeypatch.setattr(dedup, "distance", lambda a, b: calls.append(1) or distance(a, b))
    mark_near_duplicates(takes, 0.15)
    got = _marked(takes)
    assert sum(compiled_everywhere) > 5000  # the prefilter saw the windows
    assert len(calls) <= 2 * sum(v[3] <= dedup.SCORE_CAP for v in got.values())  # full distances: of takes within the cap
    assert got == want
    assert {k: got[k][2] for k in planted} == planted  # every planted copy, naming its original
    assert {k for k, v in got.items() if v[0] == "rejected"} == set(planted)  # and nothing else
    assert sum(0.15 < v[3] < dedup.SCORE_CAP for v in got.values()) >= 10  # near misses scored exactly


def test_across_runs_the_prefilter_marks_what_comparing_every_pair_gives(compiled_everywhere):
    earlier, _ = _corpus(2, 150, "k")
    kept = [KeptTake(SimpleNamespace(key=c.record.key), c.signature) for c in earlier if c.record.key[1] == "a"]
    rng = np.random.default_rng(3)
    takes, planted = [], {}
    for i, k in enumerate(kept[:120]):
        if i % 4 == 0:  # a near copy of a kept take: rejected naming it, whatever the names
            takes.append(_cand(f"n{i:04d}", *_copy(rng, *k.signature)))
            planted[f"n{i:04d}"] = k.record.key
        w = int(rng.integers(48, 66))
        takes.append(_cand(f"o{i:04d}", _speech_like(rng, w), w / FPS))
    want = _brute_force(takes, kept, 0.15)
    mark_near_duplicates(takes, 0.15, kept)
    got = _marked(takes)
    assert sum(compiled_everywhere) > 5000
    assert got == want
    assert {k: got[k][2] for k in planted} == planted
    assert {k for k, v in got.items() if v[0] == "rejected"} == set(planted)


def test_the_prefilter_keeps_every_take_the_bounds_keep_with_its_finest_bound_and_apart_is_the_distance_against_a_limit():
    rng = np.random.default_rng(4)
    index, fps = dedup._Kept(), []
    for _ in range(200):
        w = int(rng.integers(20, 90))
        fp = _speech_like(rng, w)
        index.add(fp, 1.0, dedup._prefix(fp))
        fps.append(fp)
    apart = dedup._kernels()[1]
    for trial in range(60):
        base = fps[int(rng.integers(0, len(fps)))][:, trial % 4 :].astype(np.float32)
        a = (base + rng.normal(0, [0.0, 0.05, 0.2, 0.5, 1.0][trial % 5], base.shape)).astype(np.float16)
        q = dedup._Query(dedup._prefix(a))
        for bucket in index.buckets.values():
            rows = np.arange(bucket.n)
            for cap in (0.3, 0.5, 1.0):
                compiled = bucket.far(q, rows, cap)
                kept_by_bounds = np.ones(len(rows), bool)
                for level in range(len(dedup.BOUND_BLOCKS)):
                    lb = bucket.lower_bounds(q, rows, level)
                    kept_by_bounds &= lb * (1 - dedup.BOUND_MARGIN) - dedup.BOUND_MARGIN <= cap
                ruled_out = np.isinf(compiled)
                assert not (ruled_out & kept_by_bounds).any(), (trial, cap)  # none the bounds keep
                assert ruled_out[~kept_by_bounds].mean() > 0.5 if (~kept_by_bounds).sum() > 20 else True
                np.testing.assert_allclose(compiled[kept_by_bounds], lb[kept_by_bounds], rtol=1e-5, atol=1e-6)  # the finest
        for b in fps[:40]:
            d = distance(a, b)
            a32, b32 = a.astype(np.float32), b.astype(np.float32)
            if math.isinf(d):
                assert apart(a32, b32, 10.0)
                continue
            assert not apart(a32, b32, d * (1 + 1e-5)) and apart(a32, b32, d * (1 - 1e-5) - 1e-6)


def test_compiled_a_take_meets_exactly_the_kept_takes_within_a_tenth_of_its_duration(compiled_everywhere):
    rng = np.random.default_rng(6)
    index = dedup._Kept()
    durs = list(np.exp(rng.uniform(-1, 1, 300))) + [0.9, 1.0, 1.0 / 0.9, 1.1, math.inf, math.nan, 0.0, -1.0, 5e-324, 1e300]
    for d in durs:
        fp = _speech_like(rng, 30)
        index.add(fp, float(d), dedup._prefix(fp))
    with np.errstate(invalid="ignore"):
        for d in durs + [1.0, 0.95, 2.5, 1e-300, 1e308, math.inf, math.nan, 0.0, -2.0]:
            want = {k for k, od in enumerate(durs) if abs(d - od) <= 0.1 * max(d, od)}
            got = [int(k) for b, rows in index.comparable(float(d)) for k in b.kept[rows]]
            assert sorted(got) == sorted(want), d
