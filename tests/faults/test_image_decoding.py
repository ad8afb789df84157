"""Fault-suite findings in image decoding."""

from __future__ import annotations

import struct
import zlib

import pytest

from preprocess.image.decode import ImageRejected, decode_image


def _png_header_claiming(w: int, h: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("w,h", [(15000, 15000), (100_000, 100_000)])  # past PIL's own warning and error limits
def test_bombs_beyond_pils_own_limit_are_refused_by_our_cap_with_their_size(w, h):
    with pytest.raises(ImageRejected) as e:
        decode_image(_png_header_claiming(w, h), max_pixels=40_000_000)
    assert e.value.kind == "too_many_pixels" and e.value.score == float(w * h)
    assert e.value.detail.startswith(f"{w}x{h} = ")


def test_a_raised_max_pixels_lets_an_image_past_pils_own_limit_decode():
    """90 MP is past PIL's 89.5 MP warning, which decode_image turns into an error; our cap is the
    one that counts (README: max_pixels), so raising it must be enough."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (9500, 9450), 128).save(buf, format="PNG")
    img = decode_image(buf.getvalue(), max_pixels=200_000_000)
    assert img.size == (9500, 9450) and img.mode == "RGB" and img.getpixel((10, 10)) == (128, 128, 128)


@pytest.mark.parametrize("mode,key,colour", [("RGB", (255, 0, 255), (255, 0, 255)), ("L", 7, 7)])
def test_a_colour_key_transparency_is_composited_on_white(mode, key, colour):
    """PNG's tRNS chunk on an RGB or greyscale image names one colour as transparent."""
    import io

    from PIL import Image

    img = Image.new(mode, (24, 24), colour)
    img.paste((10, 20, 30) if mode == "RGB" else 90, (0, 0, 12, 24))
    buf = io.BytesIO()
    img.save(buf, format="PNG", transparency=key)
    out = decode_image(buf.getvalue(), max_pixels=10**6)
    assert out.getpixel((20, 5)) == (255, 255, 255)  # the keyed colour
    assert out.getpixel((3, 5)) == ((10, 20, 30) if mode == "RGB" else (90, 90, 90))


@pytest.mark.parametrize("suffix,fmt", [(".avif", "AVIF"), (".ico", "ICO"), (".jfif", "JPEG")])
def test_image_formats_pil_reads_are_curated_not_unsupported(tmp_path, suffix, fmt):
    import numpy as np
    from PIL import Image

    from contracts.records import Batch
    from preprocess.curate import CurateConfig, curate

    root = tmp_path / "src"
    root.mkdir()
    yy, xx = np.mgrid[0:64, 0:64]
    check = ((xx // 8 + yy // 8) % 2) * 150
    Image.fromarray(np.stack([check + xx, check + yy, 255 - check - xx], -1).astype(np.uint8)).save(root / f"photo{suffix}", format=fmt)
    (root / "photo.txt").write_text("a photo")
    result = curate(str(root), tmp_path / "home", CurateConfig(options={"resize": "square", "size": 32}), backend="local")
    rows = [(s.status, s.reason) for b in result.batch_paths for s in Batch.read(b).samples]
    assert rows == [("accepted", None)], rows


def test_a_logo_on_transparency_is_judged_by_what_it_draws_not_the_white_behind_it(tmp_path):
    """The white composited behind a half-transparent logo counted as burnt-out highlights
    (highlight_clip 0.5 > 0.3)."""
    import numpy as np
    from PIL import Image

    from contracts.records import Batch
    from preprocess.curate import CurateConfig, curate

    root = tmp_path / "src"
    root.mkdir()
    yy, xx = np.mgrid[0:64, 0:64]
    rgba = np.zeros((64, 64, 4), np.uint8)
    check = ((xx // 8 + yy // 8) % 2) * 150
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = check + xx, check + yy, 255 - check - xx
    rgba[:, :32, 3] = 255  # the left half is drawn, the right half transparent
    Image.fromarray(rgba, "RGBA").save(root / "logo.png")
    (root / "logo.txt").write_text("a logo")
    decoded = decode_image((root / "logo.png").read_bytes(), max_pixels=10**6)
    assert decoded.getpixel((60, 10)) == (255, 255, 255) and decoded.info["alpha"].getpixel((60, 10)) == 0
    result = curate(str(root), tmp_path / "home", CurateConfig(options={"resize": "square", "size": 32}), backend="local")
    [sample] = [s for b in result.batch_paths for s in Batch.read(b).samples]
    verdicts = {v.filter: v.score for b in result.batch_paths for v in Batch.read(b).verdicts}
    assert sample.status == "accepted", sample.reason
    assert verdicts["highlight_clip"] < 0.05 and verdicts["solid_colour"] < 0.97, verdicts
