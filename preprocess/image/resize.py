"""Sizes that fit the model: keep the aspect ratio, fit a token budget, crop only to the patch grid.

The grid unit is patch_size x vae_factor pixels (16 px for patch 2 on an 8x VAE). An image is
scaled down (never up) until its token count (H/unit * W/unit) fits ``max_tokens``, then
centre-cropped to a multiple of the unit: at most one unit lost per side, as Lumina's crop-size
list does. ``square`` is the fixed-size setting of the demo.
"""

from __future__ import annotations

import math

from PIL import Image


def fit_size(width: int, height: int, max_tokens: int, unit: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """((resized w, h), (cropped w, h)) for the token budget."""
    scale = min(1.0, math.sqrt(max_tokens * unit * unit / (width * height)))
    rw, rh = max(unit, round(width * scale)), max(unit, round(height * scale))
    cw, ch = (rw // unit) * unit, (rh // unit) * unit
    while (cw // unit) * (ch // unit) > max_tokens:  # rounding up may overshoot by a row
        if cw >= ch:
            cw -= unit
        else:
            ch -= unit
    return (rw, rh), (cw, ch)


def centre_crop(img: Image.Image, w: int, h: int) -> Image.Image:
    left, top = (img.width - w) // 2, (img.height - h) // 2
    return img.crop((left, top, left + w, top + h))


def fit_to_budget(img: Image.Image, max_tokens: int, unit: int) -> Image.Image:
    (rw, rh), (cw, ch) = fit_size(img.width, img.height, max_tokens, unit)
    if (rw, rh) != img.size:
        img = img.resize((rw, rh), Image.BICUBIC)
    return centre_crop(img, cw, ch)


def square(img: Image.Image, size: int) -> Image.Image:
    """Shorter side to size, centre crop to a square."""
    s = size / min(img.size)
    nw, nh = max(size, round(img.width * s)), max(size, round(img.height * s))
    return centre_crop(img.resize((nw, nh), Image.BICUBIC), size, size)
