"""Sizes that fit the model: keep the aspect ratio, fit a token budget, crop only to the patch grid.

The grid unit is patch_size x vae_factor pixels (16 px for patch 2 on an 8x VAE). An image is
scaled down (never up) until its token count (H/unit * W/unit) fits ``max_tokens``, then
centre-cropped to a multiple of the unit: at most one unit lost per side, as Lumina's crop-size
list does (``fit_size``). An image only a unit or two across would lose up to half a side to that
crop (33x31 became 32x16 on the 16-pixel grid: aspect 1.06 -> 2.0, 15 of 31 rows cut); where the
crop changes the aspect ratio by more than MAX_ASPECT_CHANGE, ``grid_size`` takes the grid size
next to the image's own whose aspect is nearest, the image scaled (up, if need be) to cover it and
centre-cropped (33x31 -> 32x32): the rule video frames follow. ``square`` is the fixed-size
setting of the demo.
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


MAX_ASPECT_CHANGE = 1.2  # fit_size's crop may change w/h by this factor; past it, grid_size picks another size


def aspect_change(w: float, h: float, cw: float, ch: float) -> float:
    """How far w x h -> cw x ch changes the aspect ratio: max(a/b, b/a) of the two w/h; 1 when kept."""
    a, b = w / h, cw / ch
    return max(a / b, b / a)


def grid_size(w: int, h: int, max_tokens: int, unit: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """((resized w, h), (cropped w, h)) of a w x h image: fit_size unless its crop changes the aspect
    ratio by more than MAX_ASPECT_CHANGE (an image a unit or two across); then, of the grid sizes one
    unit either side of the budget-scaled image, within the budget, the one whose aspect ratio is
    nearest the image's (the smaller on a tie), the image scaled to cover it. The video frames' rule
    (preprocess/video/clips.py), but never further from the image's aspect than fit_size's crop: a
    sliver whose long side the budget shortened (6x118 in 64 tokens of 2 px: 4x64) keeps that crop
    where the sizes one unit either side are further off (2x70)."""
    (rw, rh), (cw, ch) = fit_size(w, h, max_tokens, unit)
    change = aspect_change(w, h, cw, ch)
    if change <= MAX_ASPECT_CHANGE:
        return (rw, rh), (cw, ch)
    scale = min(1.0, math.sqrt(max_tokens * unit * unit / (w * h)))
    sides = [sorted({max(1, math.floor(n * scale / unit)), max(1, math.ceil(n * scale / unit))}) for n in (w, h)]
    grids = [(gw, gh) for gw in sides[0] for gh in sides[1] if gw * gh <= max_tokens]
    if not grids:
        return (rw, rh), (cw, ch)
    gw, gh = min(grids, key=lambda g: (round(aspect_change(w, h, *g), 9), g[0] * g[1]))
    if round(aspect_change(w, h, gw, gh), 9) > round(change, 9):
        return (rw, rh), (cw, ch)
    cw, ch = gw * unit, gh * unit
    cover = max(cw / w, ch / h)
    return (max(cw, round(w * cover)), max(ch, round(h * cover))), (cw, ch)


def centre_crop(img: Image.Image, w: int, h: int) -> Image.Image:
    left, top = (img.width - w) // 2, (img.height - h) // 2
    return img.crop((left, top, left + w, top + h))


def fit_to_budget(img: Image.Image, max_tokens: int, unit: int) -> Image.Image:
    (rw, rh), (cw, ch) = grid_size(img.width, img.height, max_tokens, unit)
    if (rw, rh) != img.size:
        img = img.resize((rw, rh), Image.BICUBIC)
    return centre_crop(img, cw, ch)


def square(img: Image.Image, size: int) -> Image.Image:
    """Shorter side to size, centre crop to a square."""
    s = size / min(img.size)
    nw, nh = max(size, round(img.width * s)), max(size, round(img.height * s))
    return centre_crop(img.resize((nw, nh), Image.BICUBIC), size, size)
