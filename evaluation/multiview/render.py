"""Multi-view renders: a view strip PNG (views left to right, generated over real when given) and a
turntable GIF (the views as frames, in azimuth order) per sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from evaluation.image.render import to_uint8

UPSCALE = 4  # 32-pixel views are too small to look at

OUT_SUFFIXES = (".png", ".gif")  # what lumina sample can be asked for (the first: the default); it writes both


def _big(rgb: np.ndarray, view_side: int) -> Image.Image:
    """Nearest-neighbour upscale when the views themselves are small (whatever the canvas size)."""
    img = Image.fromarray(rgb)
    return img.resize((img.width * UPSCALE, img.height * UPSCALE), Image.NEAREST) if view_side <= 64 else img


def strip(rows: list[np.ndarray]) -> np.ndarray:
    """rows: [V, H, W, 3] uint8 each -> one image, a row per entry, 2-pixel gaps (rows of other view
    counts or sizes, as a held-out manifest of mixed sets has, are each as tall and wide as they are)."""
    heights, widths = [r.shape[1] + 2 for r in rows], [r.shape[0] * (r.shape[2] + 2) for r in rows]
    canvas = np.full((sum(heights), max(widths), 3), 255, np.uint8)
    top = 0
    for views, height in zip(rows, heights):
        _, h, w, _ = views.shape
        for i, view in enumerate(views):
            canvas[top + 1 : top + 1 + h, i * (w + 2) + 1 : i * (w + 2) + 1 + w] = view
        top += height
    return canvas


def save_strip(rows: list[np.ndarray], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    _big(strip(rows), rows[0].shape[1]).save(path)
    return path


def save_turntable(views: np.ndarray, path: Path, ms_per_view: int = 350) -> Path:
    """views: [V, H, W, 3] uint8 in azimuth order -> a looping GIF."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = [_big(v, v.shape[0]) for v in views]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=ms_per_view, loop=0)
    return path


def save_set_renders(generated: list[np.ndarray], real: list[np.ndarray], folder: Path) -> dict[str, str]:
    """Per set ([V, H, W, 3] uint8, generated and real) a strip ``strip_NN.png`` (generated over
    real) and a turntable ``turntable_NN.gif`` of the generated views, as renders ``strip_N`` and
    ``turntable_N``. A former evaluation's are removed first: one with a larger --grid-size left its
    later sets beside this one's."""
    for stale in [*folder.glob("strip_[0-9][0-9].png"), *folder.glob("turntable_[0-9][0-9].gif")]:
        stale.unlink()
    renders: dict[str, str] = {}
    for i, (gen, rea) in enumerate(zip(generated, real)):
        renders[f"strip_{i}"] = str(save_strip([gen, rea], folder / f"strip_{i:02d}.png"))
        renders[f"turntable_{i}"] = str(save_turntable(gen, folder / f"turntable_{i:02d}.gif"))
    return renders


def save_samples(decoded: list[np.ndarray], out: Path) -> list[Path]:
    """`lumina sample`: per generated set ([3, V, H, W] in [-1, 1]) a strip PNG and a turntable GIF
    beside it (out, or out_1, out_2 ... for several)."""
    paths = []
    for i, pixels in enumerate(decoded):
        p = out if len(decoded) == 1 else out.with_name(f"{out.stem}_{i + 1}{out.suffix}")
        # the file asked for keeps its name: --out VIEWS.PNG wrote views.png, which is not it on a case-sensitive disk
        strip = p if p.suffix.lower() == ".png" else p.with_suffix(".png")
        turntable = p if p.suffix.lower() == ".gif" else p.with_suffix(".gif")
        views = to_uint8(pixels)  # [V, H, W, 3]
        paths += [save_strip([views], strip), save_turntable(views, turntable)]
    return paths
