"""Near-duplicate clips: 256-bit perceptual hashes of three keyframes (first, middle, last) must
all be close, and the middle keyframes' colour signatures too (COLOUR_MAX_DIFF, as image's). One keyframe is not enough for video: a digit moving left and the same digit moving
right share their middle frame. Candidates are found by banded LSH on the middle hash (any pair
within distance < 16 shares a band), then checked on all three.

Of near copies the better is kept whatever the names (``preference``, as image's preference.py and
speech's dedup do): the higher original resolution, the longer clip (its source frames' span), the
higher source frame rate, a lossless codec, the higher video bitrate (in steps of 25%), then the
name and key. Version 1 kept the first by name, so a downscaled, shorter or re-encoded copy named
before its original was kept and the original rejected.

Across runs (as image's dedup.py): each kept clip stores its keyframe hashes in its meta
(``store_hashes``), and a later curate or refresh compares its clips with the ones earlier runs
kept (``kept_in_catalog``). A catalog whose clips have no stored hashes (curated before) finds
none of them: its runs compare within the run, as before.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace
from types import SimpleNamespace

import numpy as np
from PIL import Image

from contracts.records import VerdictRecord
from preprocess.image.dedup import PHASH_BANDS, PHASH_BITS, colour_distance, colour_signature, perceptual_hash

FILTER_VERSION = "3"  # 3: near copies also match in colour; 2: the better copy is kept (preference); 1: the first by name
# The largest difference of the middle keyframes' 4x4-cell mean colours (0..255) between near copies,
# image's default colour_max_diff: the 256-bit pHash reads luminance only, so a white and a yellow ball
# crossing the same background were near copies (distance 8 of 10) and the later one was rejected.
COLOUR_MAX_DIFF = 12.0
BITRATE_STEP = 1.25  # bitrates count in steps of 25%: a remux or the same encode of a slightly other picture ties


def keyframe_hashes(frames: np.ndarray) -> tuple[int, int, int]:
    """[T, H, W, C] uint8 -> pHashes of the first, middle and last frames."""
    pick = (0, len(frames) // 2, len(frames) - 1)
    return tuple(perceptual_hash(Image.fromarray(frames[i].squeeze(-1) if frames.shape[-1] == 1 else frames[i])) for i in pick)


def middle_colour(frames: np.ndarray) -> str:
    """The colour signature of the middle keyframe, as image stores its own (4x4 cells x RGB, one
    byte each: 96 hex digits). Near copies must match in it too (COLOUR_MAX_DIFF); the catalog's
    search across runs (catalog/near_duplicates.py) finds a sample only with one."""
    mid = frames[len(frames) // 2]
    colour = colour_signature(Image.fromarray(mid.squeeze(-1) if frames.shape[-1] == 1 else mid))
    return np.clip(np.round(colour), 0, 255).astype(np.uint8).tobytes().hex()


def store_hashes(record, hashes: tuple[int, int, int]) -> None:
    """A kept clip's keyframe hashes in its meta, for later runs to compare with: ``phash`` (the
    middle one, 64 hex digits: what the catalog's banded search looks up) and ``keyframe_hashes``
    (first, middle and last, 3 x 64 hex digits). ``colour_signature`` is there from analysis."""
    digits = PHASH_BITS // 4
    record.meta["phash"] = f"{hashes[1]:0{digits}x}"
    record.meta["keyframe_hashes"] = "".join(f"{h:0{digits}x}" for h in hashes)


@dataclass(frozen=True)
class _Kept:
    """A clip an earlier run kept, as the banded search sees a candidate."""

    record: SimpleNamespace
    signature: tuple[int, int, int]
    colour: str | None = None  # its stored colour_signature (hex)


def kept_in_catalog(catalog, modality: str, cands: list, leaving: frozenset[str] = frozenset()) -> list[_Kept]:
    """The accepted clips earlier runs put in the catalog whose middle keyframe shares a pHash band
    with an accepted candidate's, with their three stored hashes: except the candidates' own keys,
    the clips of the inputs curated now (a changed caption gives new keys for the same frames,
    which replace, not match, the old) and those of the inputs in `leaving` (a refresh retires them).
    Clips stored without keyframe hashes are left out."""
    from catalog.near_duplicates import signatures_sharing_a_band, stored_meta

    live = [c for c in cands if c.accepted and c.signature]
    if catalog is None or not live:
        return []
    uris = {c.record.source_uri for c in cands} | set(leaving)
    found = signatures_sharing_a_band(catalog, modality, [c.signature[1] for c in live], {c.record.key for c in cands}, uris)
    stored = stored_meta(catalog, [k.key for k in found], "keyframe_hashes")
    colours = stored_meta(catalog, [k.key for k in found], "colour_signature")
    digits = PHASH_BITS // 4
    out = []
    for k in found:
        text = stored.get(k.key, "")
        if len(text) == 3 * digits:
            out.append(_Kept(SimpleNamespace(key=k.key), tuple(int(text[i * digits:(i + 1) * digits], 16) for i in range(3)),
                             colours.get(k.key)))
    return out


def distance(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """The largest Hamming distance over the keyframes."""
    return max((x ^ y).bit_count() for x, y in zip(a, b))


def _colour_of(c) -> str | None:
    """A clip's middle-keyframe colour signature: a candidate's from its meta, a kept one's as stored."""
    if isinstance(c, _Kept):
        return c.colour
    return (c.record.meta or {}).get("colour_signature")


def same_colour(a, b) -> bool:
    """Whether two clips' middle keyframes match in colour; a clip without a signature (meta of
    older runs) matches any, so its pHash alone decides, as before."""
    ca, cb = _colour_of(a), _colour_of(b)
    return ca is None or cb is None or colour_distance(bytes.fromhex(ca), bytes.fromhex(cb)) <= COLOUR_MAX_DIFF


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
    return (not getattr(c, "kept_before", False),  # an earlier run's kept clip first (Candidate.kept_before)
            -int(w) * int(h), -round(float(meta.get("source_span") or 0.0), 2), -round(float(meta.get("source_fps") or 0.0), 2),
            not meta.get("lossless"), -step, c.source.name if c.source else "", c.record.key)


def mark_near_duplicates(cands: list, max_distance: int, kept: list | None = None) -> None:
    """In place, best first (``preference``): the later of a near pair is rejected, naming the match.
    `kept`: clips earlier runs kept (kept_in_catalog), which come before every candidate: a new clip
    near one of them is rejected even when it is the better copy (as image does: what an earlier run
    kept stays kept, so a refresh never retires a sample a manifest may hold). Each clip kept stores
    its hashes in its meta (store_hashes)."""
    if max_distance >= PHASH_BANDS:
        raise ValueError(f"keyframe_max_distance must be < {PHASH_BANDS} for the banded search to find every pair")
    width = PHASH_BITS // PHASH_BANDS
    buckets: dict[tuple[int, int], list] = defaultdict(list)
    for k in kept or ():
        for b in range(PHASH_BANDS):
            buckets[(b, (k.signature[1] >> (width * b)) & ((1 << width) - 1))].append(k)
    for c in sorted((c for c in cands if c.accepted and c.signature), key=preference):
        mid = c.signature[1]
        bands = [(b, (mid >> (width * b)) & ((1 << width) - 1)) for b in range(PHASH_BANDS)]
        best, best_dist = None, PHASH_BITS
        for band in bands:
            for other in buckets[band]:
                d = distance(c.signature, other.signature)
                if d < best_dist and same_colour(c, other):
                    best, best_dist = other, d
        passed = best_dist > max_distance
        c.verdicts.append(VerdictRecord(c.record.key, "keyframe_dedup", FILTER_VERSION, float(best_dist), float(max_distance), passed))
        if passed:
            store_hashes(c.record, c.signature)
            for band in bands:
                buckets[band].append(c)
        else:
            c.record = replace(c.record, status="rejected",
                               reason=f"keyframe_dedup: near duplicate of {best.record.key} (keyframe Hamming distance {best_dist})")
            c.record.meta["near_duplicate_of"] = best.record.key
            c.record.meta.pop("colour_signature", None)  # stored for kept clips only
