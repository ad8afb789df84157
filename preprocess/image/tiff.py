"""TIFFs that Pillow cannot open (float samples, planar RGB, as scientific software writes them),
read with tifffile into an 8-bit image that decode_image then treats as any other.

The same rules as decode.py: float samples are scaled from 0-1 (0-255 when they go past 1), 16-bit
ones from 0-65535; more than one page is `multi_page_image`; the pixel cap is checked from the
header, before any pixel is decoded.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF, both byte orders
_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}  # samples per pixel -> Pillow mode


def is_tiff(data: bytes) -> bool:
    return data[:4] in TIFF_MAGIC


def read_tiff(data: bytes, max_pixels: int | None = None) -> Image.Image:
    """The first and only page of a TIFF as an 8-bit L, LA, RGB, RGBA or CMYK image."""
    import tifffile

    from preprocess.image.decode import ImageRejected

    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        pages = len(tif.pages)
        if pages == 0:
            raise ValueError("a TIFF header with no page after it")
        if pages > 1:
            raise ImageRejected("multi_page_image", f"{pages} pages (split them into one file per page)", float(pages), 1.0)
        page = tif.pages[0]
        w, h = page.imagewidth, page.imagelength
        if max_pixels is not None and w * h > max_pixels:
            raise ImageRejected("too_many_pixels", f"{w}x{h} = {w * h} pixels (cap {max_pixels})", float(w * h), float(max_pixels))
        a = page.asarray()
        planar = page.planarconfig == tifffile.PLANARCONFIG.SEPARATE
        photometric = page.photometric
    if planar and a.ndim == 3:  # samples stored plane after plane: [S, H, W] -> [H, W, S]
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    a = to_8bit(a)
    if photometric == tifffile.PHOTOMETRIC.MINISWHITE:
        a = 255 - a
    samples = 1 if a.ndim == 2 else a.shape[-1]
    if photometric == tifffile.PHOTOMETRIC.SEPARATED and samples == 4:
        return Image.fromarray(a, mode="CMYK")
    if a.ndim != 2 and (a.ndim != 3 or samples not in _MODES):
        raise ValueError(f"a TIFF of shape {list(a.shape)} is no picture this pipeline reads (1 to 4 samples per pixel)")
    return Image.fromarray(np.ascontiguousarray(a), mode=_MODES[samples])


def to_8bit(a: np.ndarray) -> np.ndarray:
    """Samples to uint8 by their type's range, not stretched to the data's own (a dark image stays
    dark): float from 0-1, or 0-255 past 1 (NaN and infinities as 0); 16-bit integers from 0-65535;
    wider integers from 0-65535 when past 255, as decode.py reads Pillow's 32-bit "I" mode."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    if np.issubdtype(a.dtype, np.floating):
        a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        peak = 1.0 if a.max(initial=0.0) <= 1.0 else 255.0
    else:
        sixteen_bit = a.dtype.itemsize == 2
        a = a.astype(np.float64)
        peak = 65535.0 if sixteen_bit or a.max(initial=0.0) > 255 else 255.0
    return np.clip(a / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
