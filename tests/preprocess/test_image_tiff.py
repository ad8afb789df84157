"""TIFFs Pillow cannot open (float and planar samples) are read with tifffile, not quarantined."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import tifffile
from PIL import Image, UnidentifiedImageError

from preprocess.image.decode import ImageRejected, decode_image

CAP = 40_000_000


def _tiff(a: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, a, **kw)
    return buf.getvalue()


def _pixels() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)


def test_a_float_rgb_tiff_is_scaled_from_0_to_1():
    rgb = _pixels()
    data = _tiff(rgb.astype(np.float32) / 255, photometric="rgb")
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(data))  # why tifffile is needed at all
    img = decode_image(data, CAP)
    assert img.mode == "RGB" and img.size == (16, 12)
    np.testing.assert_array_equal(np.asarray(img), rgb)


def test_a_float_tiff_past_1_is_scaled_from_0_to_255_and_nan_is_black():
    a = _pixels().astype(np.float64)
    a[0, 0] = np.nan
    img = np.asarray(decode_image(_tiff(np.moveaxis(a, -1, 0), photometric="rgb", planarconfig="separate"), CAP))  # [3, H, W]
    assert (img[0, 0] == 0).all()
    np.testing.assert_array_equal(img[1:], _pixels()[1:])


def test_a_float_grey_tiff_becomes_rgb():
    grey = np.linspace(0, 1, 24 * 24, dtype=np.float32).reshape(24, 24)
    img = decode_image(_tiff(grey, photometric="minisblack"), CAP)
    assert img.mode == "RGB" and img.getpixel((0, 0)) == (0, 0, 0) and img.getpixel((23, 23)) == (255, 255, 255)


def test_scikit_images_multipage_float_tiff_is_a_multi_page_image():
    import skimage

    path = os.path.join(os.path.dirname(skimage.__file__), "data", "multipage_rgb.tif")  # float64, 2 planar pages
    with pytest.raises(ImageRejected) as e:
        decode_image(open(path, "rb").read(), CAP)
    assert (e.value.kind, e.value.score, e.value.threshold) == ("multi_page_image", 2.0, 1.0)


def test_the_pixel_cap_is_checked_before_a_float_tiff_is_decoded(monkeypatch):
    data = _tiff(np.zeros((100, 100, 3), np.float32), photometric="rgb")
    monkeypatch.setattr(tifffile.TiffPage, "asarray", lambda *a, **k: pytest.fail("decoded past the cap"))
    with pytest.raises(ImageRejected) as e:
        decode_image(data, max_pixels=100 * 99)
    assert e.value.kind == "too_many_pixels"


def test_a_tiff_without_pages_says_so():
    with pytest.raises(ValueError, match="^a TIFF header with no page after it$"):
        decode_image(b"II*\x00" + bytes(20), CAP)


def test_what_is_no_tiff_stays_a_decode_error():
    with pytest.raises(UnidentifiedImageError):
        decode_image(b"<html>404 not found</html>", CAP)


def test_curation_accepts_a_float_tiff_and_rejects_a_multipage_one(tmp_path):
    from contracts.records import Batch
    from preprocess.curate import CurateConfig, curate

    src = tmp_path / "src"
    src.mkdir()
    photo = np.asarray(Image.open(io.BytesIO(_png_photo())).convert("RGB"))
    (src / "float.tif").write_bytes(_tiff(photo.astype(np.float32) / 255, photometric="rgb"))
    (src / "float.txt").write_text("a float tiff")
    pages = np.moveaxis(np.stack([photo, photo]), -1, 1).astype(np.float64) / 255  # [2, 3, H, W], as scikit-image's
    (src / "pages.tif").write_bytes(_tiff(pages, photometric="rgb", planarconfig="separate"))
    (src / "pages.txt").write_text("two pages")
    result = curate(str(src), tmp_path / "home", CurateConfig(options={"resize": "square", "size": 32}), backend="local")
    rows = {s.source_uri.rsplit("/", 1)[-1]: (s.status, (s.reason or "").split(":")[0])
            for p in result.batch_paths for s in Batch.read(p).samples}
    assert rows == {"float.tif": ("accepted", ""), "pages.tif": ("rejected", "multi_page_image")}


def _png_photo() -> bytes:
    import skimage.data

    buf = io.BytesIO()
    Image.fromarray(skimage.data.coffee()[:96, :96]).save(buf, format="PNG")
    return buf.getvalue()
