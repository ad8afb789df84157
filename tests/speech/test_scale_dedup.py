"""Near-duplicate marking at scale (preprocess/speech/dedup.py, version 2): lower bounds rule pairs out
before the full distance, and what is marked is what comparing every pair gives: the same statuses,
reasons and matched keys, the same scores within the cap, the cap beyond it (helper W's scale walk:
4x the CPU per doubling before, 19 s at 2,000 takes)."""

from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace

import numpy as np

from contracts.records import SampleRecord
from preprocess.modality import Candidate
from preprocess.speech import dedup
from preprocess.speech.dedup import BANDS, distance, mark_near_duplicates

FPS = 1 / 0.0116  # frames per second of the fingerprint


def _cand(key: str, fp: np.ndarray, dur: float | None = None) -> Candidate:
    rec = SampleRecord(key=key, modality="speech", source_uri=f"/c/{key}", status="accepted", caption="x")
    return Candidate(rec, [], SimpleNamespace(name=f"{key}.wav"), (fp, fp.shape[1] / FPS if dur is None else dur))


def _speech_like(rng: np.random.Generator, w: int) -> np.ndarray:
    """Runs of 4-15 frames at one level per band, like phones in a log-mel, plus a little noise."""
    out = np.empty((BANDS, w), np.float32)
    t = 0
    while t < w:
        run = int(rng.integers(4, 16))
        out[:, t : t + run] = rng.normal(-5, 2, (BANDS, 1))
        t += run
    return (out + rng.normal(0, 0.2, out.shape)).astype(np.float16)


def _brute_force(cands: list, max_distance: float) -> list[tuple]:
    """Version 1's loop (every kept take of a similar length, the full distance, the first of the
    nearest), its score capped and its order the preference, as version 2 documents."""
    cap = max(dedup.SCORE_CAP, 2.0 * max_distance)
    kept, out = [], {}
    for c in sorted(cands, key=dedup.preference):  # no metadata here: the name order, as in version 1
        fp, dur = c.signature
        best, best_d = None, float("inf")
        for other in kept:
            ofp, odur = other.signature
            if abs(dur - odur) <= 0.1 * max(dur, odur):
                d = distance(fp, ofp)
                if d < best_d:
                    best, best_d = other, d
        score = 99.0 if best_d == float("inf") else (best_d if best_d <= cap else cap)
        if best_d <= max_distance:
            out[c.record.key] = ("rejected", f"audio_fingerprint_dedup: near duplicate of {best.record.key} (distance {best_d:.3f})", best.record.key, score, False)
        else:
            out[c.record.key] = ("accepted", None, None, score, True)
            kept.append(c)
    return [out[c.record.key] for c in cands]


def _marked(cands: list) -> list[tuple]:
    got = []
    for c in cands:
        (v,) = [v for v in c.verdicts if v.filter == "audio_fingerprint_dedup"]
        assert v.version == dedup.FILTER_VERSION == "2"
        got.append((c.record.status, c.record.reason, c.record.meta.get("near_duplicate_of"), v.score, v.passed))
    return got


def _corpus(seed: int) -> list[Candidate]:
    """Distinct takes, and of some of them: noisy copies (0.03 - 0.55 apart, around the threshold and
    the cap), copies starting 1 - 4 frames later, copies 5 - 12% longer or shorter, copies raised and
    lowered by the same constant (equally near their original: ties), and exact copies."""
    rng = np.random.default_rng(seed)
    out, n = [], 0

    def add(fp, dur=None):
        nonlocal n
        out.append(_cand(f"t{int(rng.integers(0, 10**6)):06d}_{n:03d}", fp, dur))
        n += 1

    for _ in range(40):
        w = int(rng.integers(40, 160))
        base = _speech_like(rng, w)
        add(base)
        f32 = base.astype(np.float32)
        for _ in range(int(rng.integers(0, 4))):
            kind = int(rng.integers(0, 6))
            if kind == 0:
                add((f32 + rng.normal(0, rng.uniform(0.03, 0.7), f32.shape)).astype(np.float16))
            elif kind == 1:
                add(base[:, int(rng.integers(1, 5)) :].copy())
            elif kind == 2:
                stretch = rng.choice([0.88, 0.92, 0.95, 1.05, 1.08, 1.12])
                add((f32 + rng.normal(0, 0.05, f32.shape)).astype(np.float16), w / FPS * stretch)
            elif kind == 3:
                c = rng.choice([0.0625, 0.09375, 0.125])
                add((f32 + c).astype(np.float16))
                add((f32 - c).astype(np.float16))
            elif kind == 4:
                add(base.copy())
            else:
                add((f32 + rng.normal(0, 0.12, f32.shape) * (np.arange(w) % 2)).astype(np.float16))
    for w, c in ((64, 0.6640625), (96, -0.5859375), (128, 0.625), (64, -0.703125)):
        # raised or lowered but for 8 frames at each end: a bound as high as the distance, c (w - 16) / w:
        # 0.498, 0.488, 0.547 (beyond the cap), 0.527
        base = _speech_like(rng, w)
        add(base)
        raised = base.astype(np.float64)
        raised[:, 8:-8] += c
        add(raised.astype(np.float16))
    # a take flat in time and a copy raised by 127/128 on frames 16 .. 48 of 64, named to come first:
    # with the flat one as the new take, even the coarse bound (no frame of fp moves at any offset)
    # is the distance, 0.496, just within the cap
    flat = np.repeat((rng.integers(-16, 0, BANDS) / 4)[:, None], 64, 1)
    raised = flat.copy()
    raised[:, 16:48] += 127 / 128
    out += [_cand("a_raised", raised.astype(np.float16)), _cand("b_flat", flat.astype(np.float16))]
    for w in (2, 3, 3, 4, 5):  # too short to overlap 4 frames at some or all offsets: 99.0 or a distance
        add(_speech_like(rng, w), 0.05)
    rng.shuffle(out)
    return out


def test_the_marking_is_what_comparing_every_pair_gives():
    for seed, max_distance in ((0, 0.15), (1, 0.15), (2, 0.3)):
        cands = _corpus(seed)
        want = _brute_force(cands, max_distance)
        mark_near_duplicates(cands, max_distance)
        assert _marked(cands) == want, seed
        assert sum(s == "rejected" for s, *_ in want) >= 10  # the corpus has near copies, and
        assert sum(0.15 < w[3] < 0.5 for w in want) >= 5  # takes scored between the threshold and the cap,
        assert sum(0.48 < w[3] <= 0.5 for w in want) >= 2  # some just within it,
        assert sum(w[3] == 99.0 for w in want) >= 2  # and some with no take to compare with


def test_bounds_are_never_above_the_distance():
    rng = np.random.default_rng(5)
    index = dedup._Kept()
    kept = []
    for _ in range(60):
        w = int(rng.integers(20, 80))
        fp = _speech_like(rng, w)
        index.add(fp, w / FPS, dedup._prefix(fp))
        kept.append(fp)
    for trial in range(80):
        a = kept[int(rng.integers(0, len(kept)))][:, trial % 4 :].astype(np.float32)  # a later start, noise
        a = (a + rng.normal(0, [0.0, 0.01, 0.1, 0.5, 1.0][trial % 5], a.shape)).astype(np.float16)
        exact = np.array([distance(a, b) for b in kept])
        q = dedup._Query(dedup._prefix(a))
        for bucket in index.buckets.values():
            rows = np.arange(bucket.n)
            for level in range(len(dedup.BOUND_BLOCKS)):
                assert (bucket.lower_bounds(q, rows, level) <= exact[bucket.kept[rows]] + 1e-6).all(), (trial, level)


def test_of_equally_near_takes_the_first_is_named_even_when_its_distance_rounds_below_its_bound():
    """A raise c_b per band on the frames the blocks cover (3 .. 51 of 64): its lower bound is then its
    distance, while the float32 mean may round a little below the bound. The second kept take is as
    near (the same |differences|) with a lower bound, so it is compared first; the first must still be
    compared (the margin) and named, as version 1 names the first of equally near takes."""
    w, on = 64, slice(dedup.MAX_OFFSET, dedup.MAX_OFFSET + 3 * dedup.BOUND_BLOCKS[-1])
    for seed in range(300):
        rng = np.random.default_rng(seed)
        level = rng.integers(-16, 0, BANDS) / 4  # float16-exact levels and raises: exact sums
        raise_ = rng.integers(13, 51, BANDS) / 256
        query = np.repeat(level[:, None], w, 1).astype(np.float16)
        first = query.astype(np.float64)
        first[:, on] += raise_[:, None]
        first = first.astype(np.float16)
        d = distance(query, first)
        index = dedup._Kept()
        index.add(first, 1.0, dedup._prefix(first))
        (bucket,) = index.buckets.values()
        bound = bucket.lower_bounds(dedup._Query(dedup._prefix(query)), np.array([0]), len(dedup.BOUND_BLOCKS) - 1)[0]
        if bound > d:  # the float32 mean rounds below the bound as computed
            break
    else:
        raise AssertionError("no float32 distance below its bound in 300 tries")
    signs = np.where(np.arange(w) % 5 < 3, -1.0, 1.0)  # 60% lowered: a low bound, 1.2 d from `first`
    second = query.astype(np.float64)
    second[:, on] += raise_[:, None] * signs[None, on]
    second = second.astype(np.float16)
    assert distance(query, second) == d and distance(first, second) > 1.1 * d
    a, b, q = _cand("k1", first, 1.0), _cand("k2", second, 1.0), _cand("q", query, 1.0)
    mark_near_duplicates([q, b, a], 1.08 * d)
    assert a.accepted and b.accepted
    assert _marked([q]) == [("rejected", f"audio_fingerprint_dedup: near duplicate of k1 (distance {d:.3f})", "k1", d, False)]


def test_distinct_takes_are_not_compared_in_full(monkeypatch):
    rng = np.random.default_rng(7)
    cands = [_cand(f"k{i:03d}", _speech_like(rng, int(rng.integers(150, 170))), 2.0) for i in range(250)]
    calls = []
    real = dedup.distance
    monkeypatch.setattr(dedup, "distance", lambda a, b: calls.append(1) or real(a, b))
    mark_near_duplicates(cands, 0.15)
    pairs = 250 * 249 // 2
    assert len(calls) < pairs // 100, (len(calls), pairs)  # version 1: every pair
    assert all(c.accepted for c in cands) and {c.verdicts[-1].score for c in cands[1:]} == {dedup.SCORE_CAP}


def test_odd_durations_and_takes_wider_or_narrower_than_their_bucket_are_marked_as_every_pair_gives():
    """Durations that are no finite positive number (inf is within a tenth of every finite one, NaN
    of none, 0 of 0 only, a negative one of none) or next to nothing, and takes of one duration but
    widths 60 - 400 frames (a bucket's blocks are sized by the first take in it): the same marking as
    comparing every pair."""
    rng = np.random.default_rng(11)
    fps = [_speech_like(rng, w) for w in (60, 400, 120, 200)]
    cands = []
    for dur in (float("inf"), float("nan"), 0.0, -1.0, 5e-324, 1.0, 1.04, 1e300):
        for fp in fps:
            for noise in (0.0, 0.05, 0.3):
                noisy = (fp.astype(np.float32) + rng.normal(0, noise, fp.shape)).astype(np.float16)
                cands.append(_cand(f"k{int(rng.integers(0, 10**6)):06d}_{len(cands):03d}", noisy, dur))
    want = _brute_force(cands, 0.15)
    mark_near_duplicates(cands, 0.15)
    assert _marked(cands) == want
    assert sum(s == "rejected" for s, *_ in want) >= 20 and sum(w[3] == 99.0 for w in want) >= 4
    assert sum(0.15 < w[3] < 0.5 for w in want) >= 2
