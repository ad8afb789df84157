"""Near-duplicate images: a 256-bit perceptual hash AND a colour signature must both match.

pHash sees only luminance, so a pink and an orange circle of the same shape collide on it; the
colour signature (mean colour of a 4x4 grid) tells them apart. The colour distance is the largest
per-cell difference, not the mean, so a small coloured object on a large plain background still
counts. Search is banded LSH: 16 bands of 16 bits, so any pair within distance < 16 shares a band.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import numpy as np
from PIL import Image

from contracts.records import VerdictRecord

PHASH_BITS = 256
PHASH_BANDS = 16
FILTER_VERSION = "2"  # v2: colour distance is the largest per-cell difference


def perceptual_hash(img: Image.Image) -> int:
    import imagehash

    bits = imagehash.phash(img.convert("L"), hash_size=16).hash.flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def colour_signature(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB").resize((4, 4), Image.BOX), dtype=np.float32).reshape(16, 3)


def colour_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).mean(axis=-1).max())


def mark_near_duplicates(cands: list, max_distance: int, colour_max_diff: float) -> None:
    """In place, in key order (stable across runs): the later of a near pair is rejected, its
    verdict's score is the Hamming distance and its reason names the matched key."""
    if max_distance >= PHASH_BANDS:
        raise ValueError(f"phash_max_distance must be < {PHASH_BANDS} for the banded search to find every pair")
    width = PHASH_BITS // PHASH_BANDS
    buckets: dict[tuple[int, int], list] = defaultdict(list)
    for c in sorted((c for c in cands if c.accepted and c.signature), key=lambda c: (c.source.name if c.source else "", c.record.key)):
        phash, colour = c.signature
        bands = [(b, (phash >> (width * b)) & ((1 << width) - 1)) for b in range(PHASH_BANDS)]
        best, best_dist = None, PHASH_BITS
        for band in bands:
            for other in buckets[band]:
                d = (phash ^ other.signature[0]).bit_count()
                if d < best_dist and colour_distance(colour, other.signature[1]) <= colour_max_diff:
                    best, best_dist = other, d
        passed = best_dist > max_distance
        c.verdicts.append(VerdictRecord(c.record.key, "phash_dedup", FILTER_VERSION, float(best_dist), float(max_distance), passed))
        if not passed:
            c.record = replace(c.record, status="rejected",
                               reason=f"phash_dedup: near duplicate of {best.record.key} (Hamming distance {best_dist})")
            c.record.meta["near_duplicate_of"] = best.record.key
            continue
        for band in bands:
            buckets[band].append(c)
