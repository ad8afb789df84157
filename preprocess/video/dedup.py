"""Near-duplicate clips: 256-bit perceptual hashes of three keyframes (first, middle, last) must
all be close. One keyframe is not enough for video: a digit moving left and the same digit moving
right share their middle frame. Candidates are found by banded LSH on the middle hash (any pair
within distance < 16 shares a band), then checked on all three.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import numpy as np
from PIL import Image

from contracts.records import VerdictRecord
from preprocess.image.dedup import PHASH_BANDS, PHASH_BITS, perceptual_hash

FILTER_VERSION = "1"


def keyframe_hashes(frames: np.ndarray) -> tuple[int, int, int]:
    """[T, H, W, C] uint8 -> pHashes of the first, middle and last frames."""
    pick = (0, len(frames) // 2, len(frames) - 1)
    return tuple(perceptual_hash(Image.fromarray(frames[i].squeeze(-1) if frames.shape[-1] == 1 else frames[i])) for i in pick)


def distance(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """The largest Hamming distance over the keyframes."""
    return max((x ^ y).bit_count() for x, y in zip(a, b))


def mark_near_duplicates(cands: list, max_distance: int) -> None:
    """In place, in (name, key) order: the later of a near pair is rejected, naming the match."""
    if max_distance >= PHASH_BANDS:
        raise ValueError(f"keyframe_max_distance must be < {PHASH_BANDS} for the banded search to find every pair")
    width = PHASH_BITS // PHASH_BANDS
    buckets: dict[tuple[int, int], list] = defaultdict(list)
    for c in sorted((c for c in cands if c.accepted and c.signature), key=lambda c: (c.source.name if c.source else "", c.record.key)):
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
