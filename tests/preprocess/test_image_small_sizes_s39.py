"""Small images of odd sizes lost up to half a side to the fit rule's crop to whole grid units: on
the default 16-pixel grid a 33x31 image was curated at 32x16 (15 of 31 rows cut, aspect 1.06 ->
2.0), 31x33 at 16x32, 25x49 at 16x48, 47x33 at 32x32. Where that crop changes the aspect ratio by
more than MAX_ASPECT_CHANGE the grid size next to the image's own with the nearest aspect is taken,
the image scaled to cover it (33x31 -> 32x32), as video frames are; elsewhere (every image with a
side of 80 px or more on the 16-pixel grid, and the demo's squares) the bytes are the old ones.
Images too small to keep are rejected with the min_size verdict, every time the same."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from contracts.records import Batch
from contracts.shards import iter_samples
from preprocess.curate import CurateConfig, curate
from preprocess.image.plugin import ImageOptions, ImagePlugin
from preprocess.image.resize import centre_crop, fit_size
from preprocess.sources import RawInput

SIZES = [(33, 31), (31, 33), (25, 49), (47, 33), (24, 24), (17, 40), (40, 17), (20, 9), (65, 9), (8, 8), (1, 1)]
BRIGHT, DARK, RED, BLUE = (250, 250, 250), (10, 10, 10), (220, 30, 30), (30, 30, 220)


def test_card(w: int, h: int) -> Image.Image:
    """Grey noise with a bright top band, a dark bottom band, a red left and a blue right band (1/8 of a side each)."""
    a = np.random.default_rng(w * 1000 + h).integers(60, 200, (h, w, 3)).astype(np.uint8)
    b, c = max(1, h // 8), max(1, w // 8)
    a[:b], a[-b:] = BRIGHT, DARK
    a[:, :c], a[:, -c:] = RED, BLUE
    return Image.fromarray(a)


test_card.__test__ = False  # a helper, not a test


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _bands_kept(img: Image.Image) -> None:
    """Each band shows on its edge of the crop: none was cut away."""
    a = np.asarray(img.convert("RGB"), dtype=np.float32)
    mid_rows, mid_cols = slice(a.shape[0] // 4, 3 * a.shape[0] // 4), slice(a.shape[1] // 4, 3 * a.shape[1] // 4)
    assert a[0, mid_cols].mean() > 200, "top band cut"
    assert a[-1, mid_cols].mean() < 50, "bottom band cut"
    left, right = a[mid_rows, 0].mean(0), a[mid_rows, -1].mean(0)
    assert left[0] > 150 and left[2] < 90, f"left band cut: {left}"
    assert right[2] > 150 and right[0] < 90, f"right band cut: {right}"


def _item(img: Image.Image, name: str) -> RawInput:
    data = _png(img)

    class Media:
        def read(self):
            return data

    return RawInput(f"src/{name}", f"file:///src/{name}", {"media": Media()}, None)


@pytest.mark.parametrize("w, h, curated", [(33, 31, (32, 32)), (31, 33, (32, 32)), (25, 49, (32, 64)), (47, 33, (48, 32))])
def test_a_small_odd_image_keeps_its_aspect_ratio_and_its_edges(w, h, curated):
    plugin, opts = ImagePlugin(), ImageOptions()  # the defaults: fit, 1024 tokens, 16-pixel grid
    (cand,) = plugin.analyse(_item(test_card(w, h), f"{w}x{h}.png"), "a test card", "0123456789abcdef" * 2, opts)
    rec = cand.record
    assert rec.status == "accepted", rec.reason
    assert (rec.width, rec.height, rec.meta["original_size"]) == (*curated, [w, h])  # was 32x16, 16x32, 16x48, 32x32
    img = Image.open(io.BytesIO(plugin.curated_members(cand, opts)["png"]))
    assert img.size == curated
    _bands_kept(img)
    assert plugin.media_array({"png": _png(img)}).shape == (3, 1, curated[1], curated[0])


@pytest.mark.parametrize("w, h, crop", [(33, 31, (32, 32)), (31, 33, (32, 32)), (25, 49, (32, 64)), (47, 33, (48, 32)),
                                        (20, 9, (32, 16)), (65, 9, (80, 16)), (40, 32, (48, 32))])
def test_grid_size_takes_the_grid_size_nearest_the_aspect(w, h, crop):
    from preprocess.image.resize import MAX_ASPECT_CHANGE, aspect_change, grid_size

    (rw, rh), got = grid_size(w, h, 1024, 16)
    assert got == crop and rw >= got[0] and rh >= got[1]
    assert abs(rw / rh - w / h) <= 0.1 * w / h  # scaled as a whole (65x9 was stretched to 65x16 before its crop)
    assert MAX_ASPECT_CHANGE < aspect_change(w, h, *fit_size(w, h, 1024, 16)[1])  # the old crop: 32x16, 16x32, ...
    assert aspect_change(w, h, *got) < aspect_change(w, h, *fit_size(w, h, 1024, 16)[1])
    assert aspect_change(w, h, *got) <= MAX_ASPECT_CHANGE or (w, h) == (65, 9)  # 7.2 wide: 80x16 (5) is the nearest


@pytest.mark.parametrize("max_tokens, unit", [(1024, 16), (256, 16), (64, 16), (4, 16), (1, 16), (1024, 2), (64, 2)])
def test_grid_size_keeps_the_budget_and_the_old_rule_wherever_its_crop_kept_the_aspect(max_tokens, unit):
    from preprocess.image.resize import MAX_ASPECT_CHANGE, aspect_change, grid_size

    for w in range(1, 420, 5):
        for h in range(1, 420, 13):
            old = fit_size(w, h, max_tokens, unit)
            (rw, rh), (cw, ch) = grid_size(w, h, max_tokens, unit)
            assert cw % unit == 0 and ch % unit == 0 and (cw // unit) * (ch // unit) <= max_tokens and rw >= cw and rh >= ch
            if aspect_change(w, h, *old[1]) <= MAX_ASPECT_CHANGE:
                assert ((rw, rh), (cw, ch)) == old, (w, h)
            else:
                assert aspect_change(w, h, cw, ch) <= aspect_change(w, h, *old[1]) + 1e-9, (w, h)
            if max_tokens == 1024 and unit == 16 and min(w, h) >= 80:  # every image 5 grid units across: untouched
                assert ((rw, rh), (cw, ch)) == old, (w, h)


def test_a_sliver_keeps_the_old_crop_where_the_sizes_next_to_it_are_further_off():
    from preprocess.image.resize import grid_size

    assert fit_size(6, 118, 64, 2)[1] == (4, 64)  # aspect 0.0625 for 0.051: 1.23x off
    assert grid_size(6, 118, 64, 2) == fit_size(6, 118, 64, 2)  # not 2x70 (0.029: 1.78x off)


def _photos():
    from skimage import data

    yield "coffee", Image.fromarray(data.coffee())  # 600x400
    yield "camera", Image.fromarray(data.camera())  # 512x512 grey
    yield "chelsea part", Image.fromarray(data.chelsea()[:97, :151])
    yield "digit", test_card(32, 32)
    yield "shape canvas", test_card(64, 48)


@pytest.mark.parametrize("options", [{}, {"max_tokens": 64}, {"vae_factor": 1, "max_tokens": 256}, {"resize": "square", "size": 32}])
def test_normal_sizes_give_the_same_bytes_as_the_old_rule(options):
    """Photos, the demo's 32x32 digits and 64x48 canvases: curated byte for byte as by the old rule
    (fit_size's resize and centre crop; square unchanged)."""
    from preprocess.image.decode import decode_image
    from preprocess.image.resize import square

    plugin, opts = ImagePlugin(), ImageOptions(**options)
    unit = opts.patch_size * opts.vae_factor
    for name, img in _photos():
        (cand,) = plugin.analyse(_item(img, f"{name}.png"), "a photo", "0123456789abcdef" * 2, opts)
        decoded = decode_image(_png(img), opts.max_pixels)
        if opts.resize == "square":
            old = square(decoded, opts.size)
        else:
            (rw, rh), (cw, ch) = fit_size(decoded.width, decoded.height, opts.max_tokens, unit)
            old = centre_crop(decoded.resize((rw, rh), Image.BICUBIC) if (rw, rh) != decoded.size else decoded, cw, ch)
        assert plugin.curated_members(cand, opts)["png"] == _png(old), (name, options)


def _write_cards(root):
    root.mkdir()
    for w, h in SIZES:
        test_card(w, h).save(root / f"img_{w}x{h}.png")
        (root / f"img_{w}x{h}.txt").write_text(f"a {w} by {h} test card")


def _curate(root, home, options):
    result = curate(str(root), str(home), CurateConfig(options=options), backend="local")
    samples = [s for p in result.batch_paths for s in Batch.read(p).samples]
    members = {k: Image.open(io.BytesIO(f["png"])) for u in result.shard_uris for k, f in iter_samples(u)}
    return {s.source_uri.rsplit("/", 1)[-1]: s for s in samples}, members


def test_curating_tiny_odd_images_rejects_the_too_small_and_keeps_the_edges_of_the_rest(tmp_path):
    _write_cards(tmp_path / "src")
    rows, members = _curate(tmp_path / "src", tmp_path / "home", {})  # the defaults: min_side 24
    assert sorted(rows) == sorted(f"img_{w}x{h}.png" for w, h in SIZES)  # every input has its row: none vanished
    got = {n: (r.status, r.reason, r.width, r.height) for n, r in rows.items()}
    for w, h in [(17, 40), (40, 17), (20, 9), (65, 9), (8, 8), (1, 1)]:
        assert got[f"img_{w}x{h}.png"] == ("rejected", f"min_size: score {min(w, h)} vs threshold 24", w, h)
    assert {n: g[2:] for n, g in got.items() if g[0] == "accepted"} == {
        "img_33x31.png": (32, 32), "img_31x33.png": (32, 32), "img_25x49.png": (32, 64), "img_47x33.png": (48, 32),
        "img_24x24.png": (16, 16)}  # 24x24 keeps its aspect on the old rule (one grid unit)
    for name, r in rows.items():
        if r.status == "accepted":
            assert members[r.key].size == (r.width, r.height), name  # the shard holds what the catalog records
            if name != "img_24x24.png":
                _bands_kept(members[r.key])
    again, _ = _curate(tmp_path / "src", tmp_path / "home2", {})
    assert {n: (r.status, r.reason, r.width, r.height) for n, r in again.items()} == got


def test_with_no_minimum_size_tiny_images_are_curated_or_rejected_never_lost(tmp_path):
    _write_cards(tmp_path / "src")
    rows, members = _curate(tmp_path / "src", tmp_path / "home", {"min_side": 1, "max_aspect": 10.0})
    assert sorted(rows) == sorted(f"img_{w}x{h}.png" for w, h in SIZES)
    assert rows["img_1x1.png"].status == "rejected" and rows["img_1x1.png"].reason.startswith("solid_colour: ")
    assert not [n for n, r in rows.items() if r.status == "quarantined"]
    sizes = {n: (r.width, r.height) for n, r in rows.items() if r.status == "accepted"}
    assert sizes["img_65x9.png"] == (80, 16) and sizes["img_20x9.png"] == (32, 16) and sizes["img_8x8.png"] == (16, 16)
    for name, r in rows.items():
        if r.status == "accepted":
            assert members[r.key].size == (r.width, r.height) and r.width % 16 == 0 and r.height % 16 == 0, name
