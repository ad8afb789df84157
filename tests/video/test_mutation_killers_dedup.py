"""Near-duplicate clips (preprocess/video/dedup.py): the three keyframes hashed, the largest keyframe distance,
the banded search on the middle hash, and which of two near-identical clips is kept with the verdict and reason
each gets. Hand-made 256-bit signatures, so the distances are exact (bench/mutation video_curation)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from contracts.records import SampleRecord, VerdictRecord
from preprocess.image.dedup import PHASH_BITS, perceptual_hash
from preprocess.modality import Candidate
from preprocess.video.dedup import FILTER_VERSION, distance, keyframe_hashes, mark_near_duplicates

BASE = [int.from_bytes(np.random.default_rng(s).bytes(32), "big") for s in range(3)]  # first, middle, last


def _flip(h: int, bits) -> int:
    for b in bits:
        h ^= 1 << b
    return h


def _cand(key: str, sig, source: str | None = "clip.mp4", status: str = "accepted") -> Candidate:
    rec = SampleRecord(key=key, modality="video", source_uri=f"/data/{key}", status=status,
                       reason=None if status == "accepted" else "static: motion 0.001 vs threshold 0.004")
    return Candidate(rec, [], SimpleNamespace(name=source) if source else None, sig)


def _dedup(c: Candidate) -> list[VerdictRecord]:
    return [v for v in c.verdicts if v.filter == "keyframe_dedup"]


def test_keyframes_are_the_first_middle_and_last_frame():
    frames = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    want = tuple(perceptual_hash(Image.fromarray(frames[i])) for i in (0, 2, 4))
    assert keyframe_hashes(frames) == want
    assert len(set(want)) == 3  # five different pictures: picking others would show


@pytest.mark.parametrize("h, w", [(24, 40), (1, 40)])
def test_grey_frames_hash_as_the_same_picture_in_rgb(h, w):
    """[T, H, W, 1] frames lose only their channel axis: a one-row strip stays a row, not a column."""
    grey = np.random.default_rng(1).integers(0, 256, (4, h, w), dtype=np.uint8)
    assert keyframe_hashes(grey[..., None]) == keyframe_hashes(np.repeat(grey[..., None], 3, axis=-1))


def test_distance_is_the_largest_hamming_distance_over_the_keyframes():
    a = tuple(BASE)
    b = (_flip(a[0], range(3)), a[1], _flip(a[2], range(10, 17)))
    assert distance(a, b) == 7 and distance(a, a) == 0


def test_the_later_clip_in_name_order_is_rejected_naming_the_earlier():
    """b.mp4 (key k1) comes after a.mp4 (key k2) by source name, whatever the keys or the list order say."""
    first = _cand("k2", tuple(BASE), source="a.mp4")
    later = _cand("k1", (_flip(BASE[0], [3, 70, 140, 200, 250]), BASE[1], _flip(BASE[2], [1, 2, 3])), source="b.mp4")
    mark_near_duplicates([later, first], 10)
    assert first.accepted and _dedup(first) == [VerdictRecord("k2", "keyframe_dedup", FILTER_VERSION, 256.0, 10.0, True)]
    assert later.record.status == "rejected"
    assert later.record.reason == "keyframe_dedup: near duplicate of k2 (keyframe Hamming distance 5)"
    assert later.record.meta == {"near_duplicate_of": "k2"}
    assert _dedup(later) == [VerdictRecord("k1", "keyframe_dedup", FILTER_VERSION, 5.0, 10.0, False)]
    assert FILTER_VERSION == "3"  # 3: colour too; 2: the better copy is kept (equal copies here: the first by name)


@pytest.mark.parametrize("bits, rejected", [(10, True), (11, False)])
def test_a_clip_exactly_at_the_threshold_is_a_duplicate(bits, rejected):
    a = _cand("a", tuple(BASE), source="a.mp4")
    b = _cand("b", (BASE[0], _flip(BASE[1], range(0, 16 * bits, 16)), BASE[2]), source="b.mp4")
    mark_near_duplicates([a, b], 10)
    assert a.accepted and (b.record.status == "rejected") is rejected
    assert _dedup(b)[0].score == float(bits) and _dedup(b)[0].passed is not rejected


def test_a_max_distance_the_banded_search_cannot_reach_is_refused():
    with pytest.raises(ValueError, match="keyframe_max_distance must be < 16"):
        mark_near_duplicates([_cand("a", tuple(BASE))], 16)
    mark_near_duplicates([_cand("a", tuple(BASE))], 15)


def test_the_same_middle_frame_with_other_first_and_last_frames_is_no_duplicate():
    """A digit moving left and the same digit moving right share their middle frame: both are kept, and the
    second's verdict records their real distance (the first frames 40 bits apart), found through the middle hash."""
    left = _cand("left", tuple(BASE), source="left.mp4")
    right = _cand("right", (_flip(BASE[0], range(40)), BASE[1],
                            _flip(BASE[2], [16 * b + k for b in range(16) for k in (5, 9)])), source="right.mp4")
    mark_near_duplicates([left, right], 10)
    assert left.accepted and right.accepted
    assert _dedup(right) == [VerdictRecord("right", "keyframe_dedup", FILTER_VERSION, 40.0, 10.0, True)]


def test_a_near_pair_is_found_whichever_bands_its_differences_fall_in():
    # 10 bits apart in the middle frame: the lowest bit of each even band and of the top band, and the top bit;
    # the odd bands below the top one still match, so the pair is found and compared
    spread = [0, 32, 64, 96, 128, 160, 192, 224, 240, 255]
    a = _cand("a", tuple(BASE), source="a.mp4")
    b = _cand("b", (BASE[0], _flip(BASE[1], spread), BASE[2]), source="b.mp4")
    mark_near_duplicates([a, b], 10)
    assert b.record.reason == "keyframe_dedup: near duplicate of a (keyframe Hamming distance 10)"


def test_a_clip_sharing_no_band_is_never_compared():
    """16 bits apart, one in each band: no band matches, so the search finds nothing (score PHASH_BITS)."""
    a = _cand("a", tuple(BASE), source="a.mp4")
    b = _cand("b", (BASE[0], _flip(BASE[1], range(0, 256, 16)), BASE[2]), source="b.mp4")
    mark_near_duplicates([a, b], 10)
    assert b.accepted and _dedup(b)[0].score == float(PHASH_BITS) == 256.0


def test_of_two_equally_near_originals_the_earlier_is_named():
    a = _cand("ka", (BASE[0], _flip(BASE[1], range(80, 85)), BASE[2]), source="a.mp4")
    b = _cand("kb", (BASE[0], _flip(BASE[1], range(160, 165)), BASE[2]), source="b.mp4")
    c = _cand("kc", tuple(BASE), source="c.mp4")  # 5 from each; a and b 10 apart
    mark_near_duplicates([c, b, a], 9)
    assert a.accepted and b.accepted
    assert c.record.reason == "keyframe_dedup: near duplicate of ka (keyframe Hamming distance 5)"


def test_rejected_and_unsigned_clips_take_no_part():
    static = _cand("k0", tuple(BASE), source="0.mp4", status="rejected")  # rejected before: no original
    unsigned = _cand("k1", None, source="1.mp4")
    kept = _cand("k2", tuple(BASE), source="2.mp4")
    mark_near_duplicates([static, unsigned, kept], 10)
    assert kept.accepted and _dedup(kept)[0].score == 256.0
    assert static.verdicts == [] and unsigned.verdicts == [] and unsigned.accepted


def test_a_clip_without_a_source_name_sorts_first():
    nameless = _cand("z", tuple(BASE), source=None)
    named = _cand("a", tuple(BASE), source="A.mp4")
    mark_near_duplicates([named, nameless], 10)
    assert nameless.accepted and named.record.meta["near_duplicate_of"] == "z"


def test_a_rejected_duplicate_is_no_original_for_a_later_clip():
    a = _cand("a", tuple(BASE), source="a.mp4")
    b = _cand("b", (BASE[0], _flip(BASE[1], range(0, 80, 16)), BASE[2]), source="b.mp4")  # 5 from a
    c = _cand("c", (BASE[0], _flip(BASE[1], range(0, 192, 16)), BASE[2]), source="c.mp4")  # 7 from b, 12 from a
    mark_near_duplicates([a, b, c], 10)
    assert b.record.meta["near_duplicate_of"] == "a"
    assert c.accepted and _dedup(c)[0].score == 12.0
