"""Near-duplicate clips: 256-bit perceptual hashes of three keyframes (first, middle, last) must
all be close. One keyframe is not enough for video: a digit moving left and the same digit moving
right share their middle frame. Candidates are found by banded LSH on the middle hash (any pair
within distance < 16 shares a band), then checked on all three.

Of near copies the better is kept whatever the names (``preference``, as image's preference.py and
speech's dedup do): the higher original resolution, the longer clip (its source frames' span), the
higher source frame rate, a lossless codec, the higher video bitrate (in steps of 25%), then the
name and key. Version 1 kept the first by name, so a downscaled, shorter or re-encoded copy named
before its original was kept and the original rejected.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace

import numpy as np
from PIL import Image

from contracts.records import VerdictRecord
from preprocess.image.dedup import PHASH_BANDS, PHASH_BITS, perceptual_hash

FILTER_VERSION = "2"  # 2: the better copy is kept (preference); 1: the first by source name
BITRATE_STEP = 1.25  # bitrates count in steps of 25%: a remux or the same encode of a slightly other picture ties


def keyframe_hashes(frames: np.ndarray) -> tuple[int, int, int]:
    """[T, H, W, C] uint8 -> pHashes of the first, middle and last frames."""
    pick = (0, len(frames) // 2, len(frames) - 1)
    return tuple(perceptual_hash(Image.fromarray(frames[i].squeeze(-1) if frames.shape[-1] == 1 else frames[i])) for i in pick)


def distance(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """The largest Hamming distance over the keyframes."""
    return max((x ^ y).bit_count() for x, y in zip(a, b))


def preference(c) -> tuple:
    """Sort key, best first: of near copies the first in this order is kept. From the record's meta
    (plugin.py): the more native pixels (``original_size``, before any scaling for analysis), the
    longer span of source frames in the clip (to 10 ms: a trimmed copy loses, and so does one at a
    lower frame rate, whose last frame comes no later), the higher source fps, a lossless codec, the
    higher video bitrate in BITRATE_STEP steps, then the source name and the key (never the hash or
    the input order). A record without these (older meta) ranks by name and key alone."""
    meta = c.record.meta or {}
    w, h = meta.get("original_size") or (0, 0)
    bitrate = float(meta.get("video_bitrate") or 0.0)
    step = math.floor(math.log(bitrate) / math.log(BITRATE_STEP)) if bitrate > 0 else -1
    return (-int(w) * int(h), -round(float(meta.get("source_span") or 0.0), 2), -round(float(meta.get("source_fps") or 0.0), 2),
            not meta.get("lossless"), -step, c.source.name if c.source else "", c.record.key)


def mark_near_duplicates(cands: list, max_distance: int) -> None:
    """In place, best first (``preference``): the later of a near pair is rejected, naming the match."""
    if max_distance >= PHASH_BANDS:
        raise ValueError(f"keyframe_max_distance must be < {PHASH_BANDS} for the banded search to find every pair")
    width = PHASH_BITS // PHASH_BANDS
    buckets: dict[tuple[int, int], list] = defaultdict(list)
    for c in sorted((c for c in cands if c.accepted and c.signature), key=preference):
        mid = c.signature[1]
        bands = [(b, (mid >> (width * b)) & ((1 << width) - 1)) for b in range(PHASH_BANDS)]
        best, best_dist = None, PHASH_BITS
        for band in bands:
            for other in buckets[band]:
                d = distance(c.signature, other.signature)
                if d < best_dist:
                    best, best_dist = other, d
        passed = best_dist > max_distance
        c.verdicts.append(VerdictRecord(c.record.key, "keyframe_dedup", FILTER_VERSION, float(best_dist), float(max_distance), passed))
        if passed:
            for band in bands:
                buckets[band].append(c)
        else:
            c.record = replace(c.record, status="rejected",
                               reason=f"keyframe_dedup: near duplicate of {best.record.key} (keyframe Hamming distance {best_dist})")
            c.record.meta["near_duplicate_of"] = best.record.key
