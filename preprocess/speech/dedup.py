"""Near-duplicate audio: a coarse spectral fingerprint (20 log-mel bands per 11.6 ms frame) of the
loudness-normalised, trimmed clip, compared by mean absolute difference in natural-log units.

Gain is undone by loudness normalisation and re-encoding (FLAC, MP3 at a fair bitrate) moves the
bands little: a -6 dB FLAC copy of a digit differs by 0.11; another take of the same word in the
same voice at another pitch by 0.23 or more (measured on the demo corpus; threshold 0.15). A binary
Haitsma-Kalker fingerprint did not separate the two (bit error rate 0.18 against 0.16 to 0.2).
Clips are compared only when their durations are within 10%, at offsets of up to 3 frames.

Version 2 (scale): each take is no longer compared in full with every kept take of a similar length
(4x the CPU per doubling: 19 s at 2,000 takes, some 30 min at 20,000). Lower bounds of the distance
from sums over blocks of frames (16, then 8; the triangle inequality) rule out every
take further than the score cap, max(0.5, 2 x threshold), and the rest are compared exactly, nearest
bound first. Statuses, reasons and every score within the cap are as version 1 gave them; a take
with nothing within the cap scores the cap (version 1: the distance itself, 1.3 - 1.9 between
distinct takes), and one with nothing to compare with still scores 99.0. And of near copies the
better is kept whatever the names (``preference``: the higher original sample rate, a lossless file,
the louder input, then the name; version 1 kept the first name, so a -6 dB copy named before its
original was kept and the original rejected, helper W's scale walk).

Version 2, its index (the same outcomes, so the same FILTER_VERSION): the first form bounded every
kept take of the 10% window at 16 then 8 frames a block, with a gather per take (13.4 s CPU at 8,160
takes, 52.7 s at 16,320, 15 bytes a frame). Kept takes are now held in buckets of durations within
25% of each other (a window meets two or three), each a dense float32 array of block sums (64 frames,
then 16, from frame 3: 6.25 bytes a frame), bounded one bucket at a time, coarse to fine, and the rest
compared exactly, nearest bound first. It is still linear in the window per take (an exact index
that is sublinear was not found: a summary of few numbers bounds the distance far below the cap,
bench/bench_speech_dedup.py), but cheaper per kept take: 2.0x / 2.7x / 5.0x less CPU at 4k / 16k /
64k synthetic takes (217 s at 65,280), the same outcome at each.

Across runs: the takes earlier runs kept (``kept_takes.py``: their fingerprints made again from
the log-mel of their curated shards, for the takes of durations near a candidate's) are put in the
index before every candidate, so a new take near one of them is rejected whatever ``preference``
says of the two (what an earlier run kept stays kept, as video and image do). Within one run the
outcomes are as before (so the same FILTER_VERSION); before, a near copy was found only when both
came in the same run, so a refresh accepted a -6 dB copy of a take an earlier run had kept.
Their fingerprints are not held (1.34 GB at 100,000 kept takes): kept_takes hands them over in a file
(``KeptFingerprints``), each read once to index it and again only when its bounds leave it (the peak
resident memory of 1,000 new takes against 100,000 kept: bench/speech_dedup_scale.py --rss).

Version 2, compiled (session 52, helper G): the same outcomes again. When a bucket holds
FAR_MIN_ROWS takes or more of a window, ``_Bucket.far`` (numba, which librosa brings) bounds each
take at 64 then 16 frames a block in one loop that stops adding blocks once their sum rules the take
out, and ``apart`` tests a distance against the nearest so far (or the cap) in float64, stopping each
offset early: only takes it leaves are compared by ``distance``. Its margin is twice the bounds', so
it rules out no take lower_bounds keeps and no distance within the limit (the scores are
``distance``'s, as before). The buckets are made before the search with room for every take that
may fall in them (doubling one held both copies: the index's peak at 20k kept takes 94 -> 48 MB).
Still linear in the window per take: bench/speech_dedup_scale.py has the figures.

Not taken (session of 7 Dec 2026, helper A): a version 3 searching only within the threshold (scores
exact within it, "further than the threshold" beyond) kept every status, reason and key but cost
only 1.4x / 1.5x / 1.7x less CPU at 4k / 17k / 67k takes (224.7 -> 134.9 s), still about quadratic
(x9.4, x10.8 per 4x takes): the bounds over the 10% window stay, only full distances go. A block
pigeonhole at that radius is selective only with 10-20 numbers a block (0.01-0.3% of pairs left;
4-5 numbers leave 6-21%), and an L1 range search over them (scipy cKDTree) took 10-27 ms a take
against 0.75 ms for this scan. Version 2's scores up to the cap (near misses, for choosing a
threshold) were judged worth more than 1.5x; a near-linear search needs a relaxed promise (an LSH
stage with a measured miss rate, or comparing only takes of one transcript).
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from dataclasses import replace

import numpy as np

from contracts.records import VerdictRecord

FILTER_VERSION = "2"  # the index changes the work, not the outcome: statuses, reasons, keys and scores as before
BANDS = 20
MAX_OFFSET = 3
SCORE_CAP = 0.5  # at least this (and twice the threshold): scored exactly; further: scored as the cap
BOUND_BLOCKS = (64, 16)  # the lower bounds tried in turn: frames per block, coarse to fine (float32 sums: 6.25 B a frame)
LOSSY_SUFFIXES = (".mp3", ".ogg", ".oga", ".opus")
BOUND_MARGIN = 1e-4  # taken off each lower bound (and 1e-4 of it) before it may rule a take out
LOG_STEP = math.log(1.25)  # kept takes are held in buckets of durations within 25% of each other (a 10% window meets 2)


def fingerprint(logmel: np.ndarray) -> np.ndarray:
    """[n_mels, W] log-mel -> [BANDS, W] float16."""
    n_mels, w = logmel.shape
    usable = n_mels - n_mels % BANDS
    return logmel[:usable].reshape(BANDS, usable // BANDS, w).mean(1).astype(np.float16)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float32), b.astype(np.float32)
    best = float("inf")
    for off in range(-MAX_OFFSET, MAX_OFFSET + 1):
        x, y = (a[:, off:], b) if off >= 0 else (a, b[:, -off:])
        n = min(x.shape[1], y.shape[1])
        if n >= 4:
            best = min(best, float(np.abs(x[:, :n] - y[:, :n]).mean()))
    return best


def _prefix(fp: np.ndarray) -> np.ndarray:
    """[BANDS, W] -> [W + 1, BANDS] running sums along the frames (float64, exact for float16 values),
    row t holding the sum of frames < t."""
    p = np.zeros((fp.shape[1] + 1, fp.shape[0]), np.float64)
    np.cumsum(fp.T, axis=0, dtype=np.float64, out=p[1:])
    return p


def _blocks(width, size: int):
    """Whole blocks of ``size`` frames from frame MAX_OFFSET that end by ``width`` (an int or an
    array): block j holds frames MAX_OFFSET + size j .. MAX_OFFSET + size (j + 1)."""
    return np.maximum(0, (width - MAX_OFFSET) // size)


class _Query:
    """The new take's block sums at every offset, per size of BOUND_BLOCKS: ``zero[level][j]``, the sum
    of its frames MAX_OFFSET + size j .. + size (float32), for the blocks that stay inside it at every
    offset (they end by width - MAX_OFFSET); ``moved[level][o, j]``: how far each moves at offset
    o - MAX_OFFSET (the sum over bands of |sum of the frames off later - zero|)."""

    def __init__(self, prefix: np.ndarray) -> None:
        self.width = prefix.shape[0] - 1
        self.zero, self.moved = [], []
        for size in BOUND_BLOCKS:
            j = np.arange(_blocks(self.width - MAX_OFFSET, size))
            first = MAX_OFFSET + size * j[None, :] + np.arange(-MAX_OFFSET, MAX_OFFSET + 1)[:, None]  # [O, J]
            own = prefix[first + size] - prefix[first]  # [O, J, BANDS]
            self.zero.append(own[MAX_OFFSET].astype(np.float32))
            moved = np.zeros((len(first), len(j) + 1), np.float32)  # [O, J + 1]: of blocks 0 .. j, summed
            np.cumsum(np.abs(own - own[MAX_OFFSET]).sum(2), 1, out=moved[:, 1:])
            self.moved.append(moved)


class _Bucket:
    """Kept takes of durations in one step of LOG_STEP (or all those whose duration is not a finite
    positive number): per take its kept index, width, duration and, per size of BOUND_BLOCKS, its
    block sums (float32, dense [rows, k, BANDS]: k is the first take's blocks and 2 more; a longer
    take's further blocks are left out, a shorter one's are zeros and never used)."""

    def __init__(self, width: int, room: int = 8) -> None:
        self.k = [max(1, int(_blocks(width, size))) for size in BOUND_BLOCKS]
        self.n = 0
        room = max(1, room)  # rows made at once: as many as will come when that is known (no copy as it grows)
        self.sums = [np.zeros((room, k, BANDS), np.float32) for k in self.k]
        self.kept = np.zeros(room, np.int64)
        self.width = np.zeros(room, np.int64)
        self.dur = np.zeros(room, np.float64)

    def add(self, k: int, prefix: np.ndarray, dur: float) -> None:
        if self.n == len(self.kept):
            self.kept, self.width, self.dur, *self.sums = (np.concatenate([v, np.zeros_like(v)]) for v in (self.kept, self.width, self.dur, *self.sums))
        for level, size in enumerate(BOUND_BLOCKS):
            nb = min(self.k[level], int(_blocks(prefix.shape[0] - 1, size)))
            cuts = prefix[MAX_OFFSET : MAX_OFFSET + size * nb + 1 : size]
            self.sums[level][self.n, :nb] = cuts[1:] - cuts[:-1]
        self.kept[self.n], self.width[self.n], self.dur[self.n] = k, prefix.shape[0] - 1, dur
        self.n += 1

    def far(self, q: _Query, rows: np.ndarray, cap: float) -> np.ndarray:
        """The finest bound of lower_bounds for each of ``rows`` (each block's sum in float32, their
        total in float64), inf where a bound at some level passes ``cap`` by FAR_MARGIN or more (so a
        take it rules out lower_bounds would too)."""
        kqs = tuple(min(k, zero.shape[0]) for k, zero in zip(self.k, q.zero))
        return _kernels()[0](tuple(self.sums), rows, self.width, tuple(q.zero), tuple(q.moved), q.width, kqs,
                             BOUND_BLOCKS, (cap + FAR_MARGIN) / (1 - FAR_MARGIN))

    def lower_bounds(self, q: _Query, rows: np.ndarray, level: int) -> np.ndarray:
        """A lower bound of the distance between the new take and each kept take of ``rows``, from the
        blocks of BOUND_BLOCKS[level]. At an offset the kept take's frames lo .. hi meet the new take's
        (n = hi - lo of them), and the blocks of both end by min(kept width, new width - MAX_OFFSET)
        <= hi and start at MAX_OFFSET >= lo: over n frames the mean |x - y| is at least the sum over
        those blocks and the bands of |block sum - the new take's sum of the same frames| / (BANDS n)
        (the triangle inequality), and that at least |difference at offset 0| - moved (per block,
        never below 0). inf where n < 4 at every offset, as the distance."""
        size, wb = BOUND_BLOCKS[level], self.width[rows]
        off = np.arange(-MAX_OFFSET, MAX_OFFSET + 1)[:, None]
        n = np.minimum(wb[None, :], q.width - off) - np.maximum(0, -off)  # [O, R]
        kq = min(self.k[level], q.zero[level].shape[0])
        usable = np.minimum(_blocks(np.minimum(wb, q.width - MAX_OFFSET), size), kq)  # [R]: blocks 0 .. usable
        sums = self.sums[level][:, :kq]
        gap = np.abs((sums[: self.n] if len(rows) == self.n else sums[rows]) - q.zero[level][:kq]).sum(2)  # [R, kq]
        ahead = np.zeros((len(rows), kq + 1), np.float32)
        np.cumsum(gap, 1, out=ahead[:, 1:])
        total = np.maximum(ahead[np.arange(len(rows)), usable] - q.moved[level][:, usable], 0.0)  # [O, R]
        return np.where(n >= 4, total / (BANDS * np.maximum(n, 1)), np.inf).min(0)


FAR_MARGIN = 2 * BOUND_MARGIN  # the compiled prefilter's: twice lower_bounds', so it rules out no take they keep
FAR_MIN_ROWS = 64  # fewer takes of a bucket in a window: numpy alone (the kernels are compiled at their first use: 1 - 3 s)


@functools.cache
def _kernels():
    """``far``: lower_bounds' levels, compiled (numba, which librosa needs anyway), coarse to fine, for
    each take in turn: numpy's passes over [rows, blocks, BANDS] arrays cost 2-3x a loop that stops
    adding a take's blocks once their sum rules it out (most distinct takes: at the coarse level).
    ``apart``: whether a distance passes a limit, stopped early (a tenth of ``distance``'s CPU on
    distinct takes). ``within_a_tenth``: comparable's duration test in one pass. Compiled at the first
    use, 1 - 3 s a process."""
    import numba

    @numba.njit(nogil=True)
    def frames(wb, qwidth, o):
        """Frames in common at offset o - MAX_OFFSET, as lower_bounds' n."""
        return min(wb, qwidth - (o - MAX_OFFSET)) - max(0, MAX_OFFSET - o)

    @numba.njit(nogil=True)
    def threshold(moved, wb, qwidth, kq, size, limit):
        """(usable blocks, the sum of their gaps above which the bound passes ``limit`` at every
        offset; inf when no offset has 4 frames in common) of a kept take ``wb`` frames wide."""
        usable = min(max(0, (min(wb, qwidth - MAX_OFFSET) - MAX_OFFSET) // size), kq)
        most = -np.inf
        for o in range(2 * MAX_OFFSET + 1):
            if frames(wb, qwidth, o) >= 4:
                most = max(most, moved[o, usable] + limit * BANDS * frames(wb, qwidth, o))
        return usable, (np.inf if most == -np.inf else most)

    @numba.njit(nogil=True, fastmath=True)
    def gap(sums, r, zero, usable, most):
        """Kept row r's gap over its usable blocks, or -1 once it passes ``most``."""
        total = 0.0
        for j in range(usable):
            block = np.float32(0.0)
            for b in range(BANDS):  # float32 and in any order (fastmath: vectorised), far below the margin
                block += abs(sums[r, j, b] - zero[j, b])
            total += block
            if total > most:
                return -1.0
        return total

    @numba.njit(nogil=True)
    def far(sums, rows, widths, zeros, moveds, qwidth, kqs, sizes, limit):
        """lower_bounds' finest bound of each row, or inf once a level's passes ``limit``."""
        out = np.empty(len(rows), np.float64)
        if not len(rows):
            return out
        wmin, wmax = widths[rows].min(), widths[rows].max()
        usable = np.full((len(sizes), wmax - wmin + 1), -1, np.int64)  # threshold of each level and width, once
        most = np.zeros((len(sizes), wmax - wmin + 1), np.float64)
        for i in range(len(rows)):
            r, wb = rows[i], widths[rows[i]]
            c = wb - wmin
            for level in range(len(sizes)):  # coarse to fine
                if usable[level, c] < 0:
                    usable[level, c], most[level, c] = threshold(moveds[level], wb, qwidth, kqs[level], sizes[level], limit)
                total = -1.0 if most[level, c] == np.inf else gap(sums[level], r, zeros[level], usable[level, c], most[level, c])
                if total < 0:
                    out[i] = np.inf
                    break
                out[i] = np.inf
                for o in range(2 * MAX_OFFSET + 1):  # the bound itself (of the finest level's, kept)
                    if frames(wb, qwidth, o) >= 4:
                        out[i] = min(out[i], max(total - moveds[level][o, usable[level, c]], 0.0) / (BANDS * frames(wb, qwidth, o)))
        return out

    @numba.njit(nogil=True, fastmath=True)
    def apart(a, b, limit):
        """Whether ``distance(a, b)`` (float32 [BANDS, W] each) passes ``limit``: at every offset, the
        sum over its frames passes limit BANDS n (inf: no offset has 4 frames in common), each offset's
        sum stopped once it does."""
        for off in range(-MAX_OFFSET, MAX_OFFSET + 1):
            ia, ib = max(0, off), max(0, -off)
            n = min(a.shape[1] - ia, b.shape[1] - ib)
            if n < 4:
                continue
            most, total = limit * BANDS * n, 0.0
            for band in range(BANDS):
                row = np.float32(0.0)
                for t in range(n):
                    row += abs(a[band, ia + t] - b[band, ib + t])
                total += row
                if total > most:
                    break
            if total <= most:
                return False
        return True

    @numba.njit(nogil=True)
    def within_a_tenth(durations, dur):
        out, n = np.empty(len(durations), np.int64), 0
        for i in range(len(durations)):
            other = durations[i]  # as np.maximum where it matters: with a NaN the difference is NaN, never within
            if abs(dur - other) <= 0.1 * (other if other > dur else dur):
                out[n] = i
                n += 1
        return out[:n]

    return far, apart, within_a_tenth


class _Listed:
    """Kept takes given as a list (``record.key``, ``signature``) as ``kept_takes.KeptFingerprints``
    gives them (keys, durations, widths, ``fingerprint(i)``): their fingerprints held by the caller."""

    def __init__(self, takes) -> None:
        self.takes = list(takes)
        self.keys = [t.record.key for t in self.takes]
        self.durations = np.array([float(t.signature[1]) for t in self.takes], np.float64)
        self.widths = np.array([t.signature[0].shape[1] for t in self.takes], np.int64)

    def __len__(self) -> int:
        return len(self.takes)

    def fingerprint(self, i: int) -> np.ndarray:
        return self.takes[i].signature[0]


class _Kept:
    """The kept takes: their fingerprints for the exact distance, and their buckets by duration.
    Those of earlier runs (``stored``: in a file, KeptFingerprints) are read from it when compared;
    the candidates kept now (``fps``) come after them."""

    def __init__(self, stored=None) -> None:
        self.buckets: dict = {}  # floor(log(duration) / LOG_STEP), or None: not a finite positive duration
        self.stored = _Listed(()) if stored is None else stored
        self.stored_durations = self.stored.durations  # once: KeptFingerprints makes the array at each ask
        self.fps: list[np.ndarray] = []

    @staticmethod
    def _key(dur: float):
        return math.floor(math.log(dur) / LOG_STEP) if math.isfinite(dur) and dur > 0 else None

    def reserve(self, shapes) -> None:
        """Makes the bucket of each duration of ``shapes`` ((frames, duration), in the order they may
        come), with room for every one of them in it: the index then grows without copies (doubling a
        bucket held the old rows, the new and their room at once)."""
        counts = Counter(self._key(float(d)) for _, d in shapes)
        for width, dur in shapes:
            key = self._key(float(dur))
            if key not in self.buckets:
                self.buckets[key] = self._bucket(key, int(width), float(dur), counts[key])

    def _bucket(self, key, width: int, dur: float, room: int = 8) -> _Bucket:
        """As many blocks as a take as long as the bucket's longest would have."""
        return _Bucket(width if key is None else math.ceil(width * math.exp((key + 1) * LOG_STEP - math.log(dur))), room)

    def _row(self, k: int, dur: float, prefix: np.ndarray) -> None:
        key = self._key(dur)
        if key not in self.buckets:
            self.buckets[key] = self._bucket(key, prefix.shape[0] - 1, dur)
        self.buckets[key].add(k, prefix, dur)

    def add_stored(self, i: int) -> None:
        """The i-th take of ``stored``, read once to index it (not held)."""
        self._row(i, float(self.stored_durations[i]), _prefix(self.stored.fingerprint(i)))

    def add(self, fp: np.ndarray, dur: float, prefix: np.ndarray) -> None:
        self._row(len(self.stored) + len(self.fps), dur, prefix)
        self.fps.append(fp)

    def fingerprint(self, k: int) -> np.ndarray:
        n = len(self.stored)
        return self.stored.fingerprint(k) if k < n else self.fps[k - n]

    def comparable(self, dur: float) -> list[tuple[_Bucket, np.ndarray]]:
        """(bucket, its rows) of the kept takes within a tenth of the longer duration, as the pairwise
        test says: of a finite positive duration the buckets of its window (and one more each side)
        and that of odd durations; else every bucket."""
        keys = list(self.buckets)
        if self._key(dur) is not None:
            mid, tenth = math.log(dur) / LOG_STEP, math.log(0.9) / LOG_STEP  # keys of 0.9 dur .. dur / 0.9
            keys = [k for k in keys if k is None or mid + tenth - 2 <= k <= mid - tenth + 1]
        out = []
        for key in keys:
            b = self.buckets[key]
            rows = _within_a_tenth(b.dur[: b.n], dur)
            if len(rows):
                out.append((b, rows))
        return out


def _within_a_tenth(durations: np.ndarray, dur: float) -> np.ndarray:
    """Indices of ``durations`` within a tenth of the longer of each and ``dur`` (NaN: never; inf and
    inf: NaN, never), compiled for FAR_MIN_ROWS or more (one pass, not five)."""
    if len(durations) >= FAR_MIN_ROWS:
        return _kernels()[2](durations, dur)
    with np.errstate(invalid="ignore"):  # inf - inf: NaN, not within
        return np.flatnonzero(np.abs(dur - durations) <= 0.1 * np.maximum(dur, durations))


def _within(bucket: _Bucket, q: _Query, rows: np.ndarray, cap: float) -> tuple[np.ndarray, np.ndarray, bool]:
    """The rows of ``bucket`` no lower bound rules out (beyond ``cap`` less a margin), their finest
    bounds less the margin (which order the exact comparisons), and whether the compiled prefilter
    chose them (with FAR_MIN_ROWS rows or more; its margin is FAR_MARGIN)."""
    if len(rows) >= FAR_MIN_ROWS:
        lb = bucket.far(q, rows, cap) * (1 - FAR_MARGIN) - FAR_MARGIN
        return rows[lb <= cap], lb[lb <= cap], True
    lb = np.zeros(0, np.float32)
    for level in range(len(BOUND_BLOCKS)):  # coarse to fine, each on the takes the last left
        if not len(rows):
            break
        lb = bucket.lower_bounds(q, rows, level)
        lb = lb * (1 - BOUND_MARGIN) - BOUND_MARGIN  # bounds >= 0; inf stays inf
        rows, lb = rows[lb <= cap], lb[lb <= cap]
    return rows, lb, False


def _nearest(index: _Kept, fp: np.ndarray, prefix: np.ndarray, groups: list, cap: float) -> tuple[int, float]:
    """(kept index, distance) of the nearest kept take of ``groups`` (the first of equally near ones),
    exact when it is within ``cap``; otherwise (-1, cap), or (-1, inf) when no take of them overlaps
    enough to be compared at all (``distance`` is inf for each). Takes are ruled out by lower bounds
    above the cap (less a margin far above the float32 rounding of bounds and distances, some 1e-6
    here), then the rest are compared exactly from the lowest bound up, until the bound passes the
    nearest distance found (of the takes the compiled prefilter chose, those its float64 distance
    puts beyond the nearest, or the cap, are not compared)."""
    q = _Query(prefix)
    comparable, idx, bounds, compiled = False, [], [], []
    for bucket, rows in groups:
        # a bound is finite when some offset has 4 frames in common, and none has more than offset 0
        # (fingerprints are finite: log of max(mel, floor), and non-finite audio is quarantined)
        comparable = comparable or bool((np.minimum(bucket.width[rows], q.width) >= 4).any())
        rows, lb, fast = _within(bucket, q, rows, cap)
        idx.append(bucket.kept[rows])
        bounds.append(lb)
        compiled.append(np.full(len(rows), fast))
    idx, bounds, compiled = np.concatenate(idx), np.concatenate(bounds), np.concatenate(compiled)
    best_k, best_d, query = -1, float("inf"), None
    for j in np.argsort(bounds, kind="stable"):
        if bounds[j] > min(best_d, cap):
            break
        k = int(idx[j])
        other = index.fingerprint(k)
        if compiled[j]:
            query = fp.astype(np.float32) if query is None else query
            if _kernels()[1](query, other.astype(np.float32), (min(best_d, cap) + FAR_MARGIN) / (1 - FAR_MARGIN)):
                continue  # neither nearer nor as near (nor within the cap)
        d = distance(fp, other)
        if d < best_d or (d == best_d and k < best_k):
            best_k, best_d = k, d
    if best_d <= cap:
        return best_k, best_d
    return -1, cap if comparable else float("inf")


def preference(c) -> tuple:
    """Of near copies the first in this order is kept: the higher original sample rate, a lossless
    file, the louder input (a -6 dB copy holds a bit less; 0.1 LU steps), then the name."""
    meta, name = c.record.meta or {}, c.source.name if c.source else ""
    lufs = float(meta.get("loudness_lufs") or -200.0)
    return (not getattr(c, "kept_before", False),  # an earlier run's kept take first (Candidate.kept_before)
            -int(meta.get("original_sample_rate") or 0), name.lower().endswith(LOSSY_SUFFIXES),
            -round(lufs if lufs == lufs else -200.0, 1), name, c.record.key)  # NaN: as unknown


def mark_near_duplicates(cands: list, max_distance: float, kept: list | None = None) -> None:
    """In place, in preference order (stable across runs): the later of a near pair is rejected, its
    verdict scores the distance and its reason names the matched key.

    ``kept``: takes earlier runs kept (``kept_takes.kept_takes``: a ``KeptFingerprints``, whose
    fingerprints are read from its file when compared, or a list of ``record.key`` and ``signature``),
    which come before every candidate: a new take near one of them is rejected even when it is the
    better copy (what an earlier run kept stays kept, as video and image do). They get no verdict.

    The score is the distance to the nearest kept take of a similar length when that is within
    ``max(SCORE_CAP, 2 max_distance)``, exactly as comparing with each of them would give it (the
    first of equally near ones); further than that the score is the cap itself (version 2: before, the
    full distance, 1.3 - 1.9 between distinct takes), and 99.0 when there is no take to compare with.
    Lower bounds from block sums rule out nearly every pair without the full distance."""
    from tqdm.auto import tqdm

    cap = max(SCORE_CAP, 2.0 * max_distance)
    index = _Kept(kept if hasattr(kept, "fingerprint") else _Listed(kept or ()))
    names = list(index.stored.keys)  # the candidates kept are appended: index i of the search is names[i]
    ordered = sorted((c for c in cands if c.accepted and c.signature is not None), key=preference)
    index.reserve(list(zip(index.stored.widths.tolist(), index.stored_durations.tolist()))
                  + [(c.signature[0].shape[1], c.signature[1]) for c in ordered])
    for i in range(len(index.stored)):  # first: in the index before any candidate, so of equally near takes theirs is named
        index.add_stored(i)
    for c in tqdm(ordered, desc="speech: near duplicates", unit="take", leave=False, disable=len(ordered) < 500):
        fp, dur = c.signature
        dur = float(dur)
        prefix = _prefix(fp)
        groups = index.comparable(dur)
        best, best_d = None, float("inf")
        if groups:
            k, best_d = _nearest(index, fp, prefix, groups, cap)
            best = names[k] if k >= 0 else None
        passed = best_d > max_distance
        score = min(best_d, 99.0)  # no comparable clip: a finite score for the catalog
        c.verdicts.append(VerdictRecord(c.record.key, "audio_fingerprint_dedup", FILTER_VERSION, score, max_distance, passed))
        if not passed:
            c.record = replace(c.record, status="rejected", reason=f"audio_fingerprint_dedup: near duplicate of {best} (distance {best_d:.3f})")
            c.record.meta["near_duplicate_of"] = best
            continue
        names.append(c.record.key)
        index.add(fp, dur, prefix)
