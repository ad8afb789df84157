"""View images of one multi-view sample: decoding, the per-view checks, normalisation, the strip.

Checks return (score, detail) so the plugin turns them into verdicts with thresholds.
"""

from __future__ import annotations

import io
from itertools import combinations

import numpy as np
from PIL import Image

from preprocess.image.decode import decode_image

MAX_VIEW_PIXELS = 16_000_000  # checked in the header, before decoding


def decode_view(data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """Bytes -> ([H, W, 3] uint8 RGB, [H, W] bool drawn pixels of a view with transparency, else None),
    decoded as a still image is (preprocess/image/decode.py): transparency composited on white, 16-bit
    and float scaled to 8 bits, EXIF orientation applied, palette, CMYK and grey made RGB. One decoder
    for both, so a set of transparent renders sits on the same white backdrop as opaque renders and
    image samples. Raises ImageRejected for refusals."""
    img = decode_image(data, MAX_VIEW_PIXELS)
    alpha = img.info.get("alpha")
    return np.asarray(img, dtype=np.uint8), None if alpha is None else np.asarray(alpha) >= 128


def most_different_size(views: dict[str, np.ndarray]) -> tuple[int, str]:
    """(number of distinct sizes, the first view whose size differs from the most common one)."""
    sizes = {name: v.shape[:2] for name, v in views.items()}
    common = max(set(sizes.values()), key=lambda s: sum(1 for x in sizes.values() if x == s))
    odd = next((n for n, s in sizes.items() if s != common), "")
    return len(set(sizes.values())), odd


def pair_differences(views: dict[str, np.ndarray]) -> list[tuple[float, str, str]]:
    """The mean absolute difference (0..255) of every two views, with their names."""
    return [(float(np.abs(va.astype(np.int16) - vb.astype(np.int16)).mean()), a, b)
            for (a, va), (b, vb) in combinations(views.items(), 2)]


def foreground_mask(rgb: np.ndarray, tolerance: int = 12) -> np.ndarray:
    """[H, W] bool: the pixels that differ from the background, taken as the median colour of the
    border (renders put the object in the middle of a plain backdrop, white or black)."""
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.int16)
    bg = np.median(border, axis=0)
    return np.abs(rgb.astype(np.int16) - bg).max(-1) > tolerance


def foreground(rgb: np.ndarray, drawn: np.ndarray | None) -> np.ndarray:
    """[H, W] bool: the object. A transparent view's alpha says it exactly (a white object composited
    on white has no border colour to differ from); an opaque view's is foreground_mask."""
    return drawn if drawn is not None else foreground_mask(rgb)


def square_view(rgb: np.ndarray, size: int) -> np.ndarray:
    """Centre crop to a square, then area-resize to size x size (renders are usually square)."""
    h, w = rgb.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    img = Image.fromarray(rgb[top : top + s, left : left + s])
    if s != size:
        img = img.resize((size, size), Image.BOX if s > size else Image.BICUBIC)
    return np.asarray(img, dtype=np.uint8)


def strip_png(views: list[np.ndarray]) -> bytes:
    """Views side by side, left to right in canonical order: one PNG a person can open."""
    buf = io.BytesIO()
    Image.fromarray(np.concatenate(views, axis=1)).save(buf, format="PNG")
    return buf.getvalue()


def split_strip(data: bytes, num_views: int) -> np.ndarray:
    """Inverse of strip_png: [V, H, W, 3] uint8."""
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.uint8)
    if rgb.shape[1] % num_views:
        raise ValueError(f"a strip {rgb.shape[1]} wide does not split into {num_views} views")
    return np.stack(np.split(rgb, num_views, axis=1))
