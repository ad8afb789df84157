"""PNG grids of images: one cell per sample, sized to the largest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

OUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")  # what lumina sample can write (the first: the default)


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """[3, T, H, W] floats in [-1, 1] -> [T, H, W, 3] uint8."""
    x = np.clip((np.asarray(pixels, dtype=np.float32) + 1.0) * 127.5, 0, 255)
    return x.transpose(1, 2, 3, 0).round().astype(np.uint8)


def save_grid(images: list[np.ndarray], captions: list[str], path: Path, cols: int = 4, upscale: int = 4) -> tuple[Path, Path]:
    """images: [H, W, 3] uint8 each; at most `cols` columns, as few as fill the same number of rows
    (5 images: 3 + 2, not 4 + 1 beside three empty cells). Writes the grid PNG and a caption list beside it."""
    h, w = max(t.shape[0] for t in images), max(t.shape[1] for t in images)
    rows = (len(images) + cols - 1) // cols
    cols = (len(images) + rows - 1) // rows
    canvas = np.zeros((rows * (h + 2), cols * (w + 2), 3), np.uint8)
    for i, t in enumerate(images):
        r, c = divmod(i, cols)
        canvas[r * (h + 2) + 1 : r * (h + 2) + 1 + t.shape[0], c * (w + 2) + 1 : c * (w + 2) + 1 + t.shape[1]] = t
    scale = max(1, upscale if max(h, w) <= 128 else 1)
    img = Image.fromarray(canvas).resize((canvas.shape[1] * scale, canvas.shape[0] * scale), Image.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    cap_path = path.with_suffix(".txt")
    cap_path.write_text("\n".join(f"{i // cols},{i % cols}: {c}" for i, c in enumerate(captions)) + "\n")
    return path, cap_path


def save_images(decoded: list[np.ndarray], path: Path) -> list[Path]:
    """`lumina sample`: one PNG per generated image (path, or path_1, path_2 ... for several)."""
    outs = []
    for i, pixels in enumerate(decoded):
        p = path if len(decoded) == 1 else path.with_name(f"{path.stem}_{i + 1}{path.suffix}")
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(to_uint8(pixels)[0]).save(p)
        outs.append(p)
    return outs
