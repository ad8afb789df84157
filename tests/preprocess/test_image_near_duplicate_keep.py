"""Which copy near-duplicate dedup keeps: the original, whatever the copies' names or hashes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from contracts.records import Batch
from preprocess.curate import CurateConfig, curate
from preprocess.image.preference import encoding_quality, enlargement_factor


def _photo() -> Image.Image:
    """A real photo crop with white highlights (the astronaut's suit), so brightening clips it."""
    import skimage.data

    return Image.fromarray(skimage.data.astronaut()[40:160, 140:260])


def _brighter(img: Image.Image) -> Image.Image:
    return Image.fromarray(np.clip(np.asarray(img).astype(int) + 12, 0, 255).astype(np.uint8))


def _down_up(img: Image.Image) -> Image.Image:
    return img.resize((img.width // 2, img.height // 2), Image.BICUBIC).resize(img.size, Image.BICUBIC)


def _enlarged(img: Image.Image) -> Image.Image:
    return img.resize((img.width * 2, img.height * 2), Image.BICUBIC)


def _write(path, img: Image.Image, caption: str, **save) -> None:
    img.save(path, **save)
    path.with_suffix(".txt").write_text(caption)


def _curate(folder, home) -> dict[str, tuple]:
    result = curate(str(folder), home, CurateConfig(options={"resize": "square", "size": 32}), backend="local")
    samples = [s for p in result.batch_paths for s in Batch.read(p).samples]
    return {s.source_uri.rsplit("/", 1)[-1]: (s.status, s.reason, s.width, s.height) for s in samples}


@pytest.mark.parametrize("copy_name,make_copy,save", [
    ("a_reencoded.jpg", lambda img: img, {"quality": 60}),
    ("a_down_up.png", _down_up, {}),
    ("a_enlarged.png", _enlarged, {}),
    ("a_enlarged_150.png", lambda img: img.resize((img.width * 3 // 2, img.height * 3 // 2), Image.BICUBIC), {}),
    ("a_brighter.png", _brighter, {}),
])
def test_the_original_is_kept_not_the_copy_that_sorts_first(tmp_path, copy_name, make_copy, save):
    src = tmp_path / "src"
    src.mkdir()
    photo = _photo()
    _write(src / "z_original.png", photo, "the astronaut, as shot")
    _write(src / copy_name, make_copy(photo), "a poor copy", **save)
    rows = _curate(src, tmp_path / "home")
    assert rows["z_original.png"][0] == "accepted", rows
    status, reason, w, h = rows[copy_name]
    assert status == "rejected" and reason.startswith("phash_dedup: near duplicate of"), rows
    assert (w, h) == make_copy(photo).size  # a rejected row keeps its own size, not the curated 32x32


def test_the_choice_does_not_depend_on_names(tmp_path):
    """The same two files under swapped names: the original is kept both times."""
    photo = _photo()
    for original, copy in (("a.png", "b.jpg"), ("b.png", "a.jpg")):
        src = tmp_path / original / "src"
        src.mkdir(parents=True)
        _write(src / original, photo, "original")
        _write(src / copy, photo, "re-encoded", quality=60)
        rows = _curate(src, tmp_path / original / "home")
        assert (rows[original][0], rows[copy][0]) == ("accepted", "rejected"), rows


def test_an_earlier_runs_kept_copy_stays_kept(tmp_path):
    """Across runs the decision is not flipped: the original arriving later is the duplicate."""
    photo = _photo()
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    _write(first / "copy.jpg", photo, "re-encoded", quality=60)
    _write(second / "original.png", photo, "original")
    home = tmp_path / "home"
    from flows.steps import curate_step  # registers in the catalog, as lumina curate does

    curate_step(str(first), str(home), CurateConfig(options={"resize": "square", "size": 32}), backend="local")
    curate_step(str(second), str(home), CurateConfig(options={"resize": "square", "size": 32}), backend="local")
    import duckdb

    with duckdb.connect(str(home / "catalog.duckdb"), read_only=True) as db:
        rows = dict(db.execute("SELECT regexp_extract(source_uri, '[^/]+$'), status FROM samples").fetchall())
    assert rows == {"copy.jpg": "accepted", "original.png": "rejected"}


def test_jpeg_quality_is_read_from_the_quantisation_tables():
    buf = io.BytesIO()
    _photo().save(buf, format="JPEG", quality=60)
    assert encoding_quality(buf.getvalue()) == 60
    buf = io.BytesIO()
    _photo().save(buf, format="PNG")
    assert encoding_quality(buf.getvalue()) == 100
    for lossless, expect in ((False, 75), (True, 100)):
        for extended in ({}, {"exif": b"Exif\0\0x"}, {"icc_profile": b"p" * 64}):  # a VP8X header before the bitstream
            buf = io.BytesIO()
            _photo().save(buf, format="WEBP", lossless=lossless, **extended)
            assert encoding_quality(buf.getvalue()) == expect, (lossless, extended, buf.getvalue()[12:16])


def test_an_exact_enlargement_is_told_from_a_photo():
    photo = _photo()
    assert enlargement_factor(photo) == 1
    assert enlargement_factor(_enlarged(photo)) == 2
    big = photo.resize((photo.width * 3, photo.height * 3), Image.BICUBIC)
    assert enlargement_factor(big) == 3
    assert enlargement_factor(photo.resize((photo.width * 3 // 2, photo.height * 3 // 2), Image.BICUBIC)) == 1.5
    assert enlargement_factor(Image.new("RGB", (200, 200), (90, 90, 90))) == 1  # flat: nothing to tell by


def test_every_rejected_row_keeps_its_own_size(tmp_path):
    """Rows rejected after the image was sized for the shard (an empty caption, an exact copy) say the
    source's size, as rows rejected before do; accepted rows say the curated size."""
    src = tmp_path / "src"
    src.mkdir()
    photo = _photo()
    _write(src / "a.png", photo, "the astronaut")
    _write(src / "b_exact_copy.png", photo, "the astronaut")
    _write(src / "c_no_words.png", photo.rotate(90), "   ")
    rows = _curate(src, tmp_path / "home")
    assert rows["a.png"][0] == "accepted" and rows["a.png"][2:] == (32, 32)
    assert rows["b_exact_copy.png"][1].startswith("exact_duplicate") and rows["b_exact_copy.png"][2:] == photo.size
    assert rows["c_no_words.png"][1].startswith("caption_present") and rows["c_no_words.png"][2:] == photo.size


def test_a_kept_image_records_its_nearest_distance_not_256():
    """phash_dedup's score is the distance to the nearest kept image of matching colour (16: none
    nearer), so filter_drop_rates shows how near the near misses came."""
    from types import SimpleNamespace

    from contracts.records import SampleRecord
    from preprocess.image.dedup import NearSignature, mark_near_duplicates
    from preprocess.modality import Candidate

    def cand(key, phash):
        rec = SampleRecord(key=key, modality="image", source_uri=key, status="accepted", caption="c")
        return Candidate(rec, [], SimpleNamespace(name=key), NearSignature(phash, np.zeros((16, 3))))

    first, near_miss, far = cand("a" * 32, 0), cand("b" * 32, (1 << 13) - 1), cand("c" * 32, (1 << 200) - 1)
    mark_near_duplicates([first, near_miss, far], max_distance=12, colour_max_diff=12.0)
    assert [c.verdicts[0].score for c in (first, near_miss, far)] == [16.0, 13.0, 16.0]
    assert all(c.verdicts[0].passed for c in (first, near_miss, far))


def test_the_kept_member_does_not_depend_on_input_order_or_keys():
    """Preference first, then name: every order of the same candidates keeps the same one."""
    from itertools import permutations
    from types import SimpleNamespace

    from contracts.records import SampleRecord
    from preprocess.image.dedup import NearSignature, mark_near_duplicates
    from preprocess.modality import Candidate

    def cands():
        out = []
        for key, name, phash, preference in (("0" * 32, "a.png", 0b1, (100, -1, 60, 5, 700)),
                                              ("f" * 32, "z.png", 0b0, (100, -1, 100, 5, 700)),
                                              ("8" * 32, "m.png", 0b11, (100, -2, 100, 9, 768))):
            rec = SampleRecord(key=key, modality="image", source_uri=name, status="accepted", caption="c")
            out.append(Candidate(rec, [], SimpleNamespace(name=name), NearSignature(phash, np.zeros((16, 3)), preference)))
        return out

    kept = set()
    for order in permutations(range(3)):
        group = cands()
        mark_near_duplicates([group[i] for i in order], max_distance=4, colour_max_diff=1.0)
        kept |= {c.source.name for c in group if c.accepted}
    assert kept == {"z.png"}  # not enlarged (m.png is, sharper or not) and lossless (a.png is a JPEG of quality 60)
