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
