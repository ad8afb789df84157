"""Decoding images correctly: the header is checked before any pixel is decoded, EXIF orientation is
applied, 16-bit and float images are scaled to 8 bits, transparency is composited on a documented
background, palette/CMYK/greyscale become RGB, and animated images are refused (they are video).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from preprocess.image.tiff import is_tiff, read_tiff

# What decode_image takes, the image modality's inputs and multi-view's views alike. Pillow reads every one:
# TGA (game and render output), Netpbm (.ppm/.pgm/.pbm/.pnm), QOI and JPEG 2000 (.jp2 files, .j2k/.j2c/.jpc
# codestreams) were refused as unsupported_type until session 52
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jfif", ".webp", ".avif", ".bmp", ".gif", ".tif", ".tiff", ".ico",
                  ".tga", ".ppm", ".pgm", ".pbm", ".pnm", ".qoi", ".jp2", ".j2k", ".j2c", ".jpc")
BACKGROUND = (255, 255, 255)  # transparent pixels are composited on white (img2dataset does the same)


class ImageRejected(Exception):
    """A decodable file that is no usable still image; ``kind`` becomes the reason kind."""

    def __init__(self, kind: str, detail: str, score: float | None = None, threshold: float | None = None):
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail, self.score, self.threshold = kind, detail, score, threshold


# Pillow reads a Netpbm file whose maxval is past 255 as mode "I" scaled to 0-65535, whatever its values
SIXTEEN_BIT_I_FORMATS = frozenset({"PPM"})


def _to_8bit(img: Image.Image, sixteen_bit: bool = False) -> Image.Image:
    """16-bit integer ("I;16", "I") and float ("F") modes scaled from their type's range (0-65535;
    0-1, or 0-255 past 1), not clipped. Not stretched to the data's own range: a dark photo stays
    dark (12-bit data in a 16-bit file too: nothing in the file says it is 12-bit). ``sixteen_bit``:
    the format says mode "I" is 0-65535 (a dark 16-bit PGM, all values under 256, is not 8-bit)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or sixteen_bit or a.max() > 255 else 255.0
        return Image.fromarray(np.clip(a / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="L")
    if img.mode == "F":
        a = np.asarray(img, dtype=np.float64)
        hi = 1.0 if a.max() <= 1.0 else 255.0
        return Image.fromarray(np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="L")
    return img


def _open_header(data: bytes, max_pixels: int | None = None) -> Image.Image:
    """Image.open (the header only) without PIL's own bomb guard, which raises before the size can be
    read for images past 89 MP (warning) or 179 MP (error); the caller applies our cap to the size.
    A TIFF PIL cannot identify (float or planar samples) is read with tifffile instead (tiff.py), which
    checks `max_pixels` and the page count from its header before decoding."""
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        if not is_tiff(data):
            raise
        return read_tiff(data, max_pixels)
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def decode_image(data: bytes, max_pixels: int, background: tuple[int, int, int] = BACKGROUND) -> Image.Image:
    """bytes -> RGB image. Raises ImageRejected for refusals and other exceptions for corrupt data
    (the caller quarantines those with the error type and message)."""
    if not data:  # PIL says "cannot identify image file <_io.BytesIO>": as video and speech say it
        raise ImageRejected("empty_file", "0 bytes")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        img = _open_header(data, max_pixels)
        w, h = img.size
        if w * h > max_pixels:
            raise ImageRejected("too_many_pixels", f"{w}x{h} = {w * h} pixels (cap {max_pixels})", float(w * h), float(max_pixels))
        frames = getattr(img, "n_frames", 1) if getattr(img, "is_animated", False) else 1
        # MPO: a JPEG whose extra pictures (a phone's HDR gain map, a camera's preview or second
        # stereo view) follow the primary image; the primary image is the photo, loaded below
        if frames > 1 and img.format == "TIFF":
            raise ImageRejected("multi_page_image", f"{frames} pages (split them into one file per page)",
                                float(frames), 1.0)
        if frames > 1 and img.format != "MPO":
            raise ImageRejected("animated_image", f"{frames} frames (curate it as video)", float(frames), 1.0)
        img.verify()  # truncation and checksums, before a full decode
        img = _open_header(data)  # our cap was applied above; PIL's own would refuse a raised max_pixels
        img.load()
    sixteen_bit = img.format in SIXTEEN_BIT_I_FORMATS  # (the transposed copy below has no format)
    img = ImageOps.exif_transpose(img)  # phone photos are stored sideways with an orientation tag
    img = _to_8bit(img, sixteen_bit)
    if img.mode in ("P", "L", "RGB") and "transparency" in img.info:  # palette entry or colour key (tRNS)
        img = img.convert("RGBA")
    if img.mode == "P":
        img = img.convert("RGB")
    if img.mode in ("LA", "PA"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        canvas = Image.new("RGB", img.size, background)
        alpha = img.getchannel("A")
        canvas.paste(img, mask=alpha)
        if alpha.getextrema()[0] < 255:  # the quality scores judge what is drawn, not the background added here
            canvas.info["alpha"] = alpha
        return canvas
    return img.convert("RGB")  # CMYK, YCbCr, L, 1 ...
