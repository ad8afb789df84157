"""Near-duplicate signatures that mutmut showed no test pinned (bench/mutation/REPORT.md)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from preprocess.image.dedup import PHASH_BITS, colour_distance, colour_signature, perceptual_hash


def test_phash_fits_the_banded_search():
    # 16 bands of 16 bits: a longer hash would leave bits no band looks at
    rng = np.random.default_rng(0)
    hashes = [perceptual_hash(Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8))) for _ in range(8)]
    assert max(h.bit_length() for h in hashes) == PHASH_BITS == 256


def test_colour_distance_of_a_darker_copy_is_the_brightness_step():
    base = np.full((32, 32, 3), 40, dtype=np.uint8)
    darker, brighter = Image.fromarray(base), Image.fromarray(base + 25)
    assert colour_distance(colour_signature(darker), colour_signature(brighter)) == 25.0  # no uint8 wrap-around
    assert colour_distance(colour_signature(brighter), colour_signature(darker)) == 25.0


def test_colour_signature_is_the_mean_colour_of_each_cell():
    img = np.zeros((16, 16, 3), dtype=np.uint8)
    img[5, 6] = (255, 128, 0)  # one pixel in cell (1, 1) of the 4x4 grid
    sig = colour_signature(Image.fromarray(img)).reshape(4, 4, 3)
    np.testing.assert_allclose(sig[1, 1], np.array([255, 128, 0]) / 16, atol=0.51)
    assert (np.delete(sig.reshape(16, 3), 5, axis=0) == 0).all()  # the other cells see nothing of it


def test_greyscale_images_get_an_rgb_signature():
    sig = colour_signature(Image.fromarray(np.full((8, 8), 200, dtype=np.uint8), mode="L"))
    assert sig.shape == (16, 3) and (sig == 200).all()


# --- mark_near_duplicates on hand-made signatures -------------------------------------------

import pytest  # noqa: E402
from types import SimpleNamespace  # noqa: E402

from contracts.records import SampleRecord  # noqa: E402
from preprocess.image.dedup import FILTER_VERSION, PHASH_BANDS, mark_near_duplicates  # noqa: E402
from preprocess.modality import Candidate  # noqa: E402


def _cand(key: str, phash: int, colour: float = 0.0, status: str = "accepted", source: str | None = None) -> Candidate:
    rec = SampleRecord(key=key, modality="image", source_uri=key, status=status, caption="c",
                       reason=None if status == "accepted" else "sharpness: 0.01 < 0.07")
    return Candidate(rec, [], SimpleNamespace(name=source) if source else None, (phash, np.full((16, 3), colour)))


def _statuses(cands) -> list[str]:
    return [c.record.status for c in cands]


def test_the_banded_search_only_allows_distances_it_can_find():
    mark_near_duplicates([], max_distance=PHASH_BANDS - 1, colour_max_diff=1.0)
    with pytest.raises(ValueError, match=r"^phash_max_distance must be < 16 for the banded search"):
        mark_near_duplicates([], max_distance=PHASH_BANDS, colour_max_diff=1.0)


@pytest.mark.parametrize("name,diff", [
    ("one bit in the top band", 1 << 255),
    ("the lowest bit of every band but the first", sum(1 << (16 * b) for b in range(1, 16))),
])
def test_a_pair_within_the_threshold_is_found_whichever_bands_it_shares(name, diff):
    a, b = _cand("a" * 32, 0), _cand("b" * 32, diff)
    mark_near_duplicates([a, b], max_distance=15, colour_max_diff=1.0)
    assert _statuses([a, b]) == ["accepted", "rejected"], name


def test_rejection_records_the_match_and_later_candidates_are_still_judged():
    a, a2, c, c2 = _cand("a" * 32, 0), _cand("b" * 32, 0b11), _cand("c" * 32, (1 << 64) - 1), _cand("d" * 32, (1 << 64) - 2)
    mark_near_duplicates([a, a2, c, c2], max_distance=4, colour_max_diff=1.0)
    assert _statuses([a, a2, c, c2]) == ["accepted", "rejected", "accepted", "rejected"]
    assert a2.record.meta["near_duplicate_of"] == a.record.key and c2.record.meta["near_duplicate_of"] == c.record.key
    assert a2.record.reason == f"phash_dedup: near duplicate of {a.record.key} (Hamming distance 2)"
    (va,), (va2,) = a.verdicts, a2.verdicts
    assert (va.filter, va.version, va.passed) == ("phash_dedup", FILTER_VERSION, True)
    assert (va2.version, va2.score, va2.threshold, va2.passed) == (FILTER_VERSION, 2.0, 4.0, False)


def test_only_accepted_candidates_with_a_signature_take_part():
    gone = _cand("a" * 32, 0, status="rejected")
    unsigned = _cand("b" * 32, 0)
    unsigned.signature = None
    kept = _cand("c" * 32, 0)
    mark_near_duplicates([gone, unsigned, kept], max_distance=4, colour_max_diff=1.0)
    assert _statuses([gone, unsigned, kept]) == ["rejected", "accepted", "accepted"]
    assert gone.verdicts == [] and unsigned.verdicts == [] and kept.verdicts[0].passed


def test_the_first_by_source_name_then_key_is_kept():
    by_source = [_cand("z" * 32, 0, source="A.png"), _cand("y" * 32, 0, source="B.png")]
    mark_near_duplicates(by_source, max_distance=4, colour_max_diff=1.0)
    assert _statuses(by_source) == ["accepted", "rejected"]  # source name before key
    no_source_first = [_cand("z" * 32, 0, source="A.png"), _cand("y" * 32, 0)]
    mark_near_duplicates(no_source_first, max_distance=4, colour_max_diff=1.0)
    assert _statuses(no_source_first) == ["rejected", "accepted"]  # a missing source sorts as ""


def test_of_equally_near_matches_the_first_kept_is_named():
    a, b, c = _cand("a" * 32, 0), _cand("b" * 32, 0b111111), _cand("c" * 32, 0b000111)
    mark_near_duplicates([a, b, c], max_distance=3, colour_max_diff=1.0)
    assert _statuses([a, b, c]) == ["accepted", "accepted", "rejected"]
    assert c.record.meta["near_duplicate_of"] == a.record.key  # distance 3 to both


@pytest.mark.parametrize("colour,expect", [(12.0, "rejected"), (12.5, "accepted")])
def test_colour_threshold_boundary_is_inclusive(colour, expect):
    a, b = _cand("a" * 32, 0), _cand("b" * 32, 0, colour=colour)
    mark_near_duplicates([a, b], max_distance=4, colour_max_diff=12.0)
    assert _statuses([a, b]) == ["accepted", expect]


def test_colour_distance_is_the_largest_cell_difference_not_the_mean():
    # a small coloured object on a large plain background still counts
    a = np.zeros((16, 3))
    b = a.copy()
    b[5] = (48, 48, 0)
    assert colour_distance(a, b) == 32.0  # the cell's mean over channels; the other 15 cells do not dilute it
