"""Which copy of a near-duplicate group is kept: the one a person would keep, whatever its hash or name.

Near-duplicate search (dedup.py) keeps the first member of a group it meets, so it meets them best
first. Best means, in this order (each step only breaks the ties of the one before):

1. more native pixels: width x height, counted before any enlargement. An enlargement by 1.5, 2,
   3 or 4 (scaling it down by that factor and back up loses almost nothing of it, while a photo
   loses its finest detail) has no more detail than the picture it was made from;
2. not enlarged (an enlarged copy ties with its source on step 1);
3. the less lossy encoding: a JPEG's quality estimated from its quantisation tables, a lossy
   WebP's taken as 75 (libwebp's default; its file does not say), 100 for every other format (a
   re-encoded JPEG loses to its original);
4. the sharper, by the quality filters' sharpness score in steps of 10% (a blurred copy loses;
   scores a few per cent apart, as two changed pixels make them, share a step unless one of its
   edges falls between them);
5. more distinct tones (levels used per channel): a brightened or darkened copy that clips its
   highlights or shadows merges tones;
then the source path and the key (dedup.py), so the choice never depends on hashes or on the order
inputs arrive in, and equally good copies keep the first by path. The file's size is not asked: a
PNG of a JPEG is larger and no better. Across runs, what an earlier run kept stays kept: it is met
before every candidate.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

SHARPNESS_STEP = 1.1  # sharpness counts in steps of 10%
# (k, filter for the down step, loss(k) / loss(2k) under which the image is enlarged by k), largest
# first: a 4x enlargement also looks like a 2x one. Integer factors keep the pixel grid, so an area
# average undoes them; 1.5 needs Lanczos and a tighter ratio (photo crops: 1st percentile 0.13 at
# 2x with BOX, 0.10 at 1.5x with Lanczos, lowest 0.083; enlargements: median 0.05). 1.25 is left
# out: there photos come as low as 0.058 and enlargements' median is 0.049.
ENLARGEMENTS = ((4, Image.BOX, 0.1), (3, Image.BOX, 0.1), (2, Image.BOX, 0.1), (1.5, Image.LANCZOS, 0.07))
PROBE_SIDE = 240  # enlargement is judged on a centre crop of at most this side: the same answer, cheaper
_GRID = 12  # the crop starts on a multiple of every factor's period (3 px for 1.5x), keeping the grid
_IJG_LUMA = np.array([  # the JPEG standard's luminance table (Annex K), which libjpeg scales by quality
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.float64)


def keep_preference(img: Image.Image, data: bytes, sharpness: float) -> tuple:
    """The decoded image, its file's bytes and its sharpness score -> a tuple, larger is better."""
    k = enlargement_factor(img)
    w, h = img.size
    sharpness_step = math.floor(math.log(max(float(sharpness), 1e-6)) / math.log(SHARPNESS_STEP))
    # rounded down: an enlargement by 1.5 of 157 px is 235 or 236 px, which must not count 158
    return (math.floor(w / k) * math.floor(h / k), -k, encoding_quality(data), sharpness_step, distinct_tones(img))


def distinct_tones(img: Image.Image) -> int:
    """Levels used, summed over the RGB channels (at most 768)."""
    return sum(1 for count in img.convert("RGB").histogram() if count)  # Pillow's C histogram: 768 counts


def _downup_loss(grey: np.ndarray, factor: float, down: int, img: Image.Image | None = None) -> float:
    """Mean squared change when the picture is scaled down by `factor` (with filter `down`) and back up.
    ``img``: ``grey`` as a mode "F" image already (the caller's, made once for every factor)."""
    h, w = grey.shape
    img = Image.fromarray(grey, mode="F") if img is None else img
    back = img.resize((max(1, round(w / factor)), max(1, round(h / factor))), down).resize((w, h), Image.BICUBIC)
    return float(((grey - np.asarray(back)) ** 2).mean())


def enlargement_factor(img: Image.Image) -> float:
    """The factor of ENLARGEMENTS the image is an enlargement by, else 1. An enlargement by k keeps
    almost all of itself through a down-up by k, but not by 2k; a photo loses a good share of what
    2k loses already at k. Measured on 300 crops (64-128 px) of scikit-image's photos, flat ones
    included: 1 taken for an enlargement; of their bicubic enlargements 68% (1.5x), 87% (2x), 83%
    (3x) and 80% (4x) found. One missed, or by another factor, counts all its pixels and is kept
    over its source (a hard-edged drawing enlarged 1.5x is not found: bicubic rings at its edges)."""
    grey = np.asarray(img.convert("L"), dtype=np.float32)
    h, w = grey.shape
    top, left = (max(0, (h - PROBE_SIDE) // 2) // _GRID * _GRID, max(0, (w - PROBE_SIDE) // 2) // _GRID * _GRID)
    grey = np.ascontiguousarray(grey[top:top + PROBE_SIDE, left:left + PROBE_SIDE])
    as_image, losses = Image.fromarray(grey, mode="F"), {}

    def loss(factor: float, down: int) -> float:  # 2x's coarse down-up (4, BOX) is 4x's fine one: computed once
        if (factor, down) not in losses:
            losses[factor, down] = _downup_loss(grey, factor, down, as_image)
        return losses[factor, down]

    for k, down, ratio in ENLARGEMENTS:
        if min(grey.shape) < 16 * k:  # too small to tell at 2k
            continue
        coarse = loss(2 * k, down)
        if coarse > 1e-3 and loss(k, down) < ratio * coarse:  # a flat image is no enlargement
            return k
    return 1


LOSSY_WEBP_QUALITY = 75  # libwebp's default quality: a lossy WebP's file does not record its own


def _webp_is_lossy(data: bytes) -> bool:
    """Whether a WebP holds a lossy 'VP8 ' bitstream: the simple format's first chunk, or a chunk of
    the extended one ('VP8X' with ICC, EXIF, alpha or animation before it), walked chunk by chunk."""
    at = 12
    while at + 8 <= len(data):
        fourcc, size = data[at:at + 4], int.from_bytes(data[at + 4:at + 8], "little")
        if fourcc in (b"VP8 ", b"VP8L"):
            return fourcc == b"VP8 "
        if fourcc == b"ANMF":  # an animation frame holds its bitstream chunk: look inside
            at += 8 + 16
            continue
        at += 8 + size + (size & 1)  # chunks are padded to an even size
    return False


def encoding_quality(data: bytes) -> int:
    """A JPEG's quality (1-100), estimated from its luminance quantisation table as libjpeg scales
    the standard one; LOSSY_WEBP_QUALITY for a lossy WebP ('VP8 ' chunk); 100 for any other format."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return LOSSY_WEBP_QUALITY if _webp_is_lossy(data) else 100
    try:
        with Image.open(io.BytesIO(data)) as img:
            tables = getattr(img, "quantization", None) if img.format in ("JPEG", "MPO") else None
    except Exception:  # noqa: BLE001 - decode_image has opened it already; this is only a preference
        return 100
    if not tables or 0 not in tables or len(tables[0]) != 64:
        return 100
    # PIL gives the table in zigzag order in old versions and natural order in new ones: compare sorted
    table = np.sort(np.asarray(tables[0], dtype=np.float64))
    errors = np.abs(_IJG_SCALED - table).sum(axis=1)  # whole numbers: exact in any order of summation
    return int(np.argmin(errors)) + 1  # the first of equal errors, as before


def _ijg_scaled() -> np.ndarray:
    """[100, 64]: row q - 1 is the standard table, sorted, as libjpeg scales it for quality q."""
    base = np.sort(_IJG_LUMA)
    return np.stack([np.clip(np.floor((base * (5000 / q if q < 50 else 200 - 2 * q) + 50) / 100), 1, 255)
                     for q in range(1, 101)])


_IJG_SCALED = _ijg_scaled()  # once, not a hundred small array operations per JPEG
