"""The lower bounds of preprocess/speech/dedup.py (version 2's duration buckets) pinned to their
definition (bench/mutation/REPORT.md, module speech_curation): a bound that prunes less gives the
same marking, only slower, so no marking test tells it; here each bucket's bound at each block size
is the one its docstring defines, computed plainly, and the buckets a take meets hold exactly the
kept takes within a tenth of its duration."""

from __future__ import annotations

import math

import numpy as np

from preprocess.speech import dedup
from preprocess.speech.dedup import BANDS, BOUND_BLOCKS, MAX_OFFSET


def _take(rng: np.random.Generator, w: int) -> np.ndarray:
    out = np.empty((BANDS, w), np.float32)
    t = 0
    while t < w:
        run = int(rng.integers(3, 12))
        out[:, t : t + run] = rng.normal(-5, 2, (BANDS, 1))
        t += run
    return (out + rng.normal(0, 0.3, out.shape)).astype(np.float16)


def _plain_bound(a: np.ndarray, b: np.ndarray, size: int, k: int) -> float:
    """The docstring's bound of kept take b for new take a: the blocks of ``size`` frames from frame
    MAX_OFFSET that end by min(width b, width a - MAX_OFFSET) (at most k of them); at each offset with
    4 frames or more in common, the sum over them and the bands of |b's block sum - a's at offset 0|,
    less how far a's block sums move at that offset, never below 0, over BANDS times the frames in
    common; the least over the offsets (inf when no offset has 4 frames in common)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    wa, wb = a.shape[1], b.shape[1]
    blocks = min(k, max(0, (min(wb, wa - MAX_OFFSET) - MAX_OFFSET) // size))
    best = math.inf
    for off in range(-MAX_OFFSET, MAX_OFFSET + 1):
        n = min(wb, wa - off) - max(0, -off)
        if n < 4:
            continue
        gap = moved = 0.0
        for j in range(blocks):
            s = MAX_OFFSET + size * j
            zero = a[:, s : s + size].sum(1)
            gap += np.abs(b[:, s : s + size].sum(1) - zero).sum()
            moved += np.abs(a[:, s + off : s + off + size].sum(1) - zero).sum()
        best = min(best, max(gap - moved, 0.0) / (BANDS * n))
    return best


def test_each_bound_is_the_one_its_docstring_defines():
    rng = np.random.default_rng(3)
    for first in (40, 150, 300):  # the bucket's blocks: sized by its first take's width
        bucket = dedup._Bucket(first)
        kept = [_take(rng, w) for w in (first, 2, 5, 19, 70, 83, 140, 150, 151, 300, 333, 420)]
        for i, fp in enumerate(kept):
            bucket.add(100 + i, dedup._prefix(fp), 1.0)
        assert bucket.n == len(kept) and list(bucket.kept[: bucket.n]) == list(range(100, 100 + len(kept)))
        rows = np.arange(bucket.n)
        for wa in (3, 7, 22, 67, 70, 73, 135, 150, 153, 299, 340):
            a = _take(rng, wa)
            q = dedup._Query(dedup._prefix(a))
            for level, size in enumerate(BOUND_BLOCKS):
                got = bucket.lower_bounds(q, rows, level)
                want = np.array([_plain_bound(a, b, size, bucket.k[level]) for b in kept])
                np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6, err_msg=f"{first} {wa} {size}")
                sub = rows[1::3]  # some of the rows: the same bounds
                np.testing.assert_allclose(bucket.lower_bounds(q, sub, level), want[sub], rtol=2e-6, atol=1e-6)


def test_a_bucket_has_the_blocks_of_its_first_take_and_grows_as_takes_come():
    bucket = dedup._Bucket(3 + 64 * 2 + 63)
    assert bucket.k == [2, 11]  # whole blocks from frame 3: 2 of 64 frames, 11 of 16
    assert dedup._Bucket(3 + 15).k == [1, 1]  # not a whole block: one all the same (never used)
    fps = [np.full((BANDS, 200), i, np.float16) for i in range(20)]
    for i, fp in enumerate(fps):
        bucket.add(i, dedup._prefix(fp), 2.0 + i)
    assert bucket.n == 20 and list(bucket.width[:20]) == [200] * 20 and list(bucket.dur[:20]) == [2.0 + i for i in range(20)]
    for i in range(20):  # block j: frames 3 + size j .. 3 + size (j + 1), each frame i in every band
        np.testing.assert_array_equal(bucket.sums[0][i], np.full((2, BANDS), 64.0 * i))
        np.testing.assert_array_equal(bucket.sums[1][i], np.full((11, BANDS), 16.0 * i))


def test_a_take_meets_exactly_the_kept_takes_within_a_tenth_of_its_duration():
    rng = np.random.default_rng(4)
    index = dedup._Kept()
    durs = list(np.exp(rng.uniform(-3, 4, 300))) + [0.9, 1.0, 1.0 / 0.9, 1.1, math.inf, math.nan, 0.0, -1.0, 5e-324, 1e300]
    for d in durs:
        fp = _take(rng, 30)
        index.add(fp, float(d), dedup._prefix(fp))
    assert len(index.fps) == len(durs)
    with np.errstate(invalid="ignore"):
        for d in durs + [1.0, 0.95, 2.5, 1e-300, 1e308, math.inf, math.nan, 0.0, -2.0]:
            want = {k for k, od in enumerate(durs) if abs(d - od) <= 0.1 * max(d, od)}
            got = [int(k) for b, rows in index.comparable(float(d)) for k in b.kept[rows]]
            assert sorted(got) == sorted(want) and len(got) == len(set(got)), d
            assert all(len(rows) for _, rows in index.comparable(float(d)))


def _flat(level: np.ndarray, w: int = 70) -> np.ndarray:
    return np.repeat(level[:, None], w, 1).astype(np.float16)


def test_takes_are_compared_nearest_bound_first_and_no_further_than_the_nearest_found(monkeypatch):
    """A copy of the new take (bound ~0, distance 0), eight takes raised by 5/16 in every band, some
    up and some down (distance 0.3125, bounds 0.29: within the cap), three raised by 7/8 (beyond it):
    the copy is compared, and then no other take."""
    rng = np.random.default_rng(8)
    level = rng.integers(-24, -8, BANDS) / 4
    index = dedup._Kept()
    signs = [np.where(rng.permutation(BANDS) < 10, 1.0, -1.0) for _ in range(8)]
    kept = [_flat(level + 0.3125 * s) for s in signs[:4]] + [_flat(level)] + [_flat(level + 0.3125 * s) for s in signs[4:]]
    kept += [_flat(level + 0.875), _flat(level - 0.875), _flat(level + 0.875 * signs[0])]
    for fp in kept:
        index.add(fp, 1.0, dedup._prefix(fp))
    query = _flat(level)
    calls = []
    real = dedup.distance
    monkeypatch.setattr(dedup, "distance", lambda a, b: calls.append(1) or real(a, b))
    groups = index.comparable(1.0)
    assert dedup._nearest(index, query, dedup._prefix(query), groups, 0.5) == (4, 0.0)
    assert len(calls) == 1
    calls.clear()  # without the copy: the nearest of the eight (all as near: the first), none of the three
    index = dedup._Kept()
    for fp in kept[:4] + kept[5:]:
        index.add(fp, 1.0, dedup._prefix(fp))
    k, d = dedup._nearest(index, query, dedup._prefix(query), index.comparable(1.0), 0.5)
    assert (k, d) == (0, 0.3125) and len(calls) == 8
    calls.clear()  # only the three: nothing within the cap, none compared, the cap as the score
    index = dedup._Kept()
    for fp in kept[-3:]:
        index.add(fp, 1.0, dedup._prefix(fp))
    assert dedup._nearest(index, query, dedup._prefix(query), index.comparable(1.0), 0.5) == (-1, 0.5) and calls == []
    index = dedup._Kept()  # too short to share 4 frames at any offset: inf, as the distance
    index.add(_flat(level, 2), 1.0, dedup._prefix(_flat(level, 2)))
    short = _flat(level, 1)
    assert dedup._nearest(index, short, dedup._prefix(short), index.comparable(1.0), 0.5) == (-1, math.inf)


def test_the_margin_keeps_an_equally_near_first_take_whose_bound_rounds_above_its_distance_far_out():
    """As test_scale_dedup's equally-near test, at distances of about 1.2 (a threshold of 1.08 of it,
    the cap twice that): the margin must stay below the distance there too."""
    from tests.speech.test_scale_dedup import _cand, _marked

    from preprocess.speech.dedup import distance, mark_near_duplicates

    w, on = 64, slice(MAX_OFFSET, MAX_OFFSET + 3 * BOUND_BLOCKS[-1])
    for seed in range(400):
        rng = np.random.default_rng(seed)
        level = rng.integers(-16, 0, BANDS) / 4
        raise_ = rng.integers(13, 51, BANDS) / 16  # 0.8 - 3.2 per band on 48 of 64 frames
        query = np.repeat(level[:, None], w, 1).astype(np.float16)
        first = query.astype(np.float64)
        first[:, on] += raise_[:, None]
        first = first.astype(np.float16)
        d = distance(query, first)
        index = dedup._Kept()
        index.add(first, 1.0, dedup._prefix(first))
        (bucket,) = index.buckets.values()
        if bucket.lower_bounds(dedup._Query(dedup._prefix(query)), np.array([0]), len(BOUND_BLOCKS) - 1)[0] > d:
            break
    else:
        raise AssertionError("no float32 distance below its bound in 400 tries")
    assert 1.0 < d < 2.0
    signs = np.where(np.arange(w) % 5 < 3, -1.0, 1.0)
    second = query.astype(np.float64)
    second[:, on] += raise_[:, None] * signs[None, on]
    second = second.astype(np.float16)
    assert distance(query, second) == d and distance(first, second) > 1.1 * d
    a, b, q = _cand("k1", first, 1.0), _cand("k2", second, 1.0), _cand("q", query, 1.0)
    mark_near_duplicates([q, b, a], 1.08 * d)
    assert a.accepted and b.accepted
    assert _marked([q]) == [("rejected", f"audio_fingerprint_dedup: near duplicate of k1 (distance {d:.3f})", "k1", d, False)]


def test_takes_as_wide_as_their_duration_keep_every_block_in_their_bucket():
    """A bucket's blocks are sized for the longest take it may hold (the first take's frames per
    second at the bucket's top duration): takes of one frame rate, whichever comes first, lose no
    block, so each bound is the plain one with all the blocks both takes share."""
    rng = np.random.default_rng(9)
    fps_rate = 22050 / 256
    durs = [1.0, 1.24, 1.06, 1.2, 1.11, 1.249]  # one bucket (1.25 wide): the shortest first
    kept = [_take(rng, int(d * fps_rate)) for d in durs]
    index = dedup._Kept()
    for fp, d in zip(kept, durs):
        index.add(fp, d, dedup._prefix(fp))
    (bucket,) = index.buckets.values()
    a = _take(rng, int(1.3 * fps_rate))
    q = dedup._Query(dedup._prefix(a))
    rows = np.arange(bucket.n)
    for level, size in enumerate(BOUND_BLOCKS):
        want = [_plain_bound(a, b, size, 10**6) for b in kept]
        np.testing.assert_allclose(bucket.lower_bounds(q, rows, level), want, rtol=2e-6, atol=1e-6)


def test_loudness_orders_near_copies_in_steps_of_a_tenth_and_unknown_comes_last():
    """preference: the louder of near copies is kept, loudness rounded to 0.1 LU (0.4 LU louder
    counts, 0.04 does not: then the name), and a copy without a loudness, or a NaN one, after any
    measured one."""
    from contracts.records import SampleRecord
    from preprocess.modality import Candidate
    from preprocess.sources import Entry, RawInput
    from preprocess.speech.dedup import mark_near_duplicates

    fp = np.random.default_rng(2).normal(-5, 2, (BANDS, 120)).astype(np.float16)

    def cand(name: str, lufs) -> Candidate:
        meta = {"original_sample_rate": 22050} | ({} if lufs is None else {"loudness_lufs": lufs})
        rec = SampleRecord(key=name, modality="speech", source_uri=f"/c/{name}", split="train", status="accepted", meta=meta)
        return Candidate(rec, [], RawInput(name, f"/c/{name}", {"media": Entry(name, f"/c/{name}", 0)}), (fp, 1.4))

    for first, second, kept in (((-20.4), (-20.0), 1), ((-20.04), (-20.0), 0), (None, -60.0, 1), (math.nan, -60.0, 1)):
        a, b = cand("a.wav", first), cand("b.wav", second)
        mark_near_duplicates([a, b], 0.15)
        assert [a.accepted, b.accepted] == [kept == 0, kept == 1], (first, second)


def test_a_bound_or_a_distance_exactly_at_the_cap_is_within_it(monkeypatch):
    """The cap is inclusive: a take whose bound (less the margin) is exactly the cap is compared, and
    one whose distance is exactly the cap is the nearest found. A kept take raised on the frames its
    16-frame blocks cover (3 .. 51 of 60; no 64-frame block fits): its 16-frame bound is its distance,
    less the margin, and the cap is set to that bound, then to the distance."""
    rng = np.random.default_rng(12)
    level = rng.integers(-24, -8, BANDS) / 4
    query = _flat(level, 60)
    kept = query.astype(np.float64)
    kept[:, MAX_OFFSET : MAX_OFFSET + 3 * BOUND_BLOCKS[-1]] += rng.integers(4, 12, BANDS)[:, None] / 8
    kept = kept.astype(np.float16)
    index = dedup._Kept()
    index.add(kept, 1.0, dedup._prefix(kept))
    (bucket,) = index.buckets.values()
    q = dedup._Query(dedup._prefix(query))
    assert bucket.lower_bounds(q, np.array([0]), 0)[0] == 0.0  # no 64-frame block: 0
    raw = bucket.lower_bounds(q, np.array([0]), len(BOUND_BLOCKS) - 1)[0]
    at_bound = raw * (1 - dedup.BOUND_MARGIN) - dedup.BOUND_MARGIN
    d = dedup.distance(query, kept)
    assert at_bound < d and abs(raw - d) < 1e-6
    calls = []
    real = dedup.distance
    monkeypatch.setattr(dedup, "distance", lambda a, b: calls.append(1) or real(a, b))
    prefix = dedup._prefix(query)
    assert dedup._nearest(index, query, prefix, index.comparable(1.0), at_bound) == (-1, at_bound) and len(calls) == 1
    assert dedup._nearest(index, query, prefix, index.comparable(1.0), d) == (0, d) and len(calls) == 2
