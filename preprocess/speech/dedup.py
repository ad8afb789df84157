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
"""

from __future__ import annotations

import bisect
from dataclasses import replace

import numpy as np

from contracts.records import VerdictRecord

FILTER_VERSION = "2"
BANDS = 20
MAX_OFFSET = 3
SCORE_CAP = 0.5  # at least this (and twice the threshold): scored exactly; further: scored as the cap
BOUND_BLOCKS = (16, 8)  # the lower bounds tried in turn: frames per block, coarse to fine (kept: 15 B a frame)
LOSSY_SUFFIXES = (".mp3", ".ogg", ".oga", ".opus")
BOUND_MARGIN = 1e-4  # taken off each lower bound (and 1e-4 of it) before it may rule a take out


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


class _Blocks:
    """Per kept take, the sums of its frames in blocks of ``size`` (block j: frames j*size .. (j+1)*size,
    whole blocks only), float32, in one growing [rows, BANDS] array; a take's blocks from ``start``."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.rows = np.zeros((1 << 12, BANDS), np.float32)
        self.used = 0

    def add(self, prefix: np.ndarray) -> int:
        cuts = prefix[:: self.size]  # running sums at 0, size, 2 size, ...
        sums = (cuts[1:] - cuts[:-1]).astype(np.float32)
        if self.used + len(sums) > len(self.rows):
            grown = np.zeros((max(2 * len(self.rows), self.used + len(sums)), BANDS), np.float32)
            grown[: self.used] = self.rows[: self.used]
            self.rows = grown
        self.rows[self.used : self.used + len(sums)] = sums
        self.used += len(sums)
        return self.used - len(sums)


class _Kept:
    """The kept takes: their fingerprints for the exact distance, block sums at each size of
    ``BOUND_BLOCKS`` for the lower bounds, and durations sorted for the 10% window."""

    def __init__(self) -> None:
        self.levels = [_Blocks(size) for size in BOUND_BLOCKS]
        self.start = np.zeros((256, len(self.levels)), np.int64)  # per kept take and block size
        self.width = np.zeros(256, np.int64)
        self.dur = np.zeros(256, np.float64)
        self.fps: list[np.ndarray] = []
        self.by_dur: list[float] = []  # finite durations, sorted, with the kept index beside each
        self.by_idx: list[int] = []
        self.odd: list[int] = []  # kept takes with a duration that is not finite: always looked at

    def add(self, fp: np.ndarray, dur: float, prefix: np.ndarray) -> None:
        k = len(self.fps)
        if k == len(self.width):
            self.start, self.width, self.dur = (np.concatenate([v, np.zeros_like(v)]) for v in (self.start, self.width, self.dur))
        self.start[k] = [level.add(prefix) for level in self.levels]
        self.width[k], self.dur[k] = fp.shape[1], dur
        self.fps.append(fp)
        if np.isfinite(dur):
            at = bisect.bisect_right(self.by_dur, dur)
            self.by_dur.insert(at, dur)
            self.by_idx.insert(at, k)
        else:
            self.odd.append(k)

    def comparable(self, dur: float) -> np.ndarray:
        """Kept indices (ascending) within a tenth of the longer duration, as the pairwise test says."""
        if np.isfinite(dur) and dur > 0:  # a superset of the window, then the pairwise test itself
            lo = bisect.bisect_left(self.by_dur, 0.9 * dur * (1 - 1e-9))
            hi = bisect.bisect_right(self.by_dur, dur / 0.9 * (1 + 1e-9))
            idx = np.array(self.by_idx[lo:hi] + self.odd, np.int64)
        else:
            idx = np.arange(len(self.fps), dtype=np.int64)
        if not len(idx):
            return idx
        od = self.dur[idx]
        idx = idx[np.abs(dur - od) <= 0.1 * np.maximum(dur, od)]
        return np.sort(idx)

    def lower_bounds(self, prefix: np.ndarray, idx: np.ndarray, level: int) -> np.ndarray:
        """A lower bound of ``distance(fp, kept[k])`` for each k of ``idx`` (``prefix``: the running
        sums of fp). At an offset, frame f of the kept take meets frame f + off of fp; over the n
        frames they share, the mean |x - y| is at least sum over bands and the kept take's whole
        blocks inside the overlap of |block sum - the same frames' sum of fp| / (BANDS n) (the
        triangle inequality; frames in no whole block are left out). inf where n < 4 at every offset,
        as the distance."""
        blocks = self.levels[level]
        size = blocks.size
        wa = prefix.shape[0] - 1
        wb, st = self.width[idx], self.start[idx, level]
        nb = wb // size  # whole blocks of each kept take
        j = np.arange(max(int(nb.max()), 1))
        rows = np.minimum(st[:, None] + np.minimum(j[None, :], np.maximum(nb - 1, 0)[:, None]), len(blocks.rows) - 1)
        kept = blocks.rows[rows]  # [K, J, BANDS]: each take's blocks (its last repeated, masked out below)
        off = np.arange(-MAX_OFFSET, MAX_OFFSET + 1)[:, None]  # [O, 1]: every offset at once
        lo = np.maximum(0, -off)
        hi = np.minimum(wb[None, :], wa - off)  # [O, K]: the kept take's frames lo .. hi meet fp's
        n = hi - lo
        first = j[None, :] * size + off  # [O, J]: fp's frames of block j, first .. first + size
        inside = (first >= 0) & (first + size <= wa)
        own = prefix[np.clip(first + size, 0, wa)] - prefix[np.clip(first, 0, wa)]
        own = np.where(inside[:, :, None], own, 0.0).astype(np.float32)  # [O, J, BANDS]
        use = (j[None, None, :] * size >= lo[:, :, None]) & ((j[None, None, :] + 1) * size <= hi[:, :, None])  # [O, K, J]
        if level == 0 and len(self.levels) > 1:
            # the coarse pass: |differences| at offset 0 only, less what fp's block moves at each offset
            # (|y - x_off| >= |y - x_0| - |x_off - x_0| per band), one pass over [K, J, BANDS], not 7
            zero = own[MAX_OFFSET]
            gap = np.abs(kept - zero[None]).sum(2)  # [K, J]
            moved = np.abs(own - zero[None]).sum(2)  # [O, J]
            use &= (inside & inside[MAX_OFFSET])[:, None, :]
            lb = np.where(use, np.maximum(gap[None] - moved[:, None, :], 0.0), 0.0).sum(2) / (BANDS * np.maximum(n, 1))
        else:
            gap = np.abs(kept[None] - own[:, None]).sum(3)  # [O, K, J]
            lb = np.where(use, gap, 0.0).sum(2) / (BANDS * np.maximum(n, 1))
        return np.where(n >= 4, lb, np.inf).min(0)


def _nearest(index: _Kept, fp: np.ndarray, prefix: np.ndarray, idx: np.ndarray, cap: float) -> tuple[int, float]:
    """(kept index, distance) of the nearest of ``idx`` (the first of equally near ones), exact when it
    is within ``cap``; otherwise (-1, cap), or (-1, inf) when no take of ``idx`` overlaps enough to
    be compared at all (``distance`` is inf for each). Takes are ruled out by ever tighter lower
    bounds above the cap (less a margin far above the float32 rounding of bounds and distances, some
    1e-6 here), then the rest are compared exactly from the lowest bound up, until the bound passes
    the nearest distance found."""
    comparable = False
    for level in range(len(BOUND_BLOCKS)):
        bounds = index.lower_bounds(prefix, idx, level)
        comparable = comparable or bool(np.isfinite(bounds).any())  # the first bounds, of every take
        bounds = bounds * (1 - BOUND_MARGIN) - BOUND_MARGIN  # bounds >= 0; inf stays inf
        near = bounds <= cap
        idx, bounds = idx[near], bounds[near]
        if not len(idx):
            break
    best_k, best_d = -1, float("inf")
    for j in np.argsort(bounds, kind="stable") if len(idx) else ():
        if bounds[j] > min(best_d, cap):
            break
        k = int(idx[j])
        d = distance(fp, index.fps[k])
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
    return (-int(meta.get("original_sample_rate") or 0), name.lower().endswith(LOSSY_SUFFIXES),
            -round(lufs if lufs == lufs else -200.0, 1), name, c.record.key)  # NaN: as unknown


def mark_near_duplicates(cands: list, max_distance: float) -> None:
    """In place, in preference order (stable across runs): the later of a near pair is rejected, its
    verdict scores the distance and its reason names the matched key.

    The score is the distance to the nearest kept take of a similar length when that is within
    ``max(SCORE_CAP, 2 max_distance)``, exactly as comparing with each of them would give it (the
    first of equally near ones); further than that the score is the cap itself (version 2: before, the
    full distance, 1.3 - 1.9 between distinct takes), and 99.0 when there is no take to compare with.
    Lower bounds from block sums rule out nearly every pair without the full distance."""
    from tqdm.auto import tqdm

    cap = max(SCORE_CAP, 2.0 * max_distance)
    kept: list = []
    index = _Kept()
    ordered = sorted((c for c in cands if c.accepted and c.signature is not None), key=preference)
    for c in tqdm(ordered, desc="speech: near duplicates", unit="take", leave=False, disable=len(ordered) < 500):
        fp, dur = c.signature
        dur = float(dur)
        prefix = _prefix(fp)
        idx = index.comparable(dur)
        best, best_d = None, float("inf")
        if len(idx):
            k, best_d = _nearest(index, fp, prefix, idx, cap)
            best = kept[k] if k >= 0 else None
        passed = best_d > max_distance
        score = min(best_d, 99.0)  # no comparable clip: a finite score for the catalog
        c.verdicts.append(VerdictRecord(c.record.key, "audio_fingerprint_dedup", FILTER_VERSION, score, max_distance, passed))
        if not passed:
            c.record = replace(c.record, status="rejected", reason=f"audio_fingerprint_dedup: near duplicate of {best.record.key} (distance {best_d:.3f})")
            c.record.meta["near_duplicate_of"] = best.record.key
            continue
        kept.append(c)
        index.add(fp, dur, prefix)
