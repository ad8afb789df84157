"""Scene cuts by content difference, as PySceneDetect's content and adaptive detectors do.

Each frame becomes a small area-averaged luma thumbnail, so a moving object changes only a few
cells while a cut changes most of the picture. A cut is a frame whose difference to the previous
one is both above an absolute floor and several times its neighbours' (the adaptive rule, which
keeps fast but continuous motion from being cut). PySceneDetect itself would bring OpenCV for
this one function, so the rule is reimplemented here on numpy.
"""

from __future__ import annotations

import numpy as np

THUMB = 8  # cells per side of the luma thumbnail
# A change that reverts within this many frames is a flash (a camera flash, lightning, a glitch frame),
# not a cut: the picture after it matches the one before. A one-frame white flash in one continuous
# shot was cut in two, the second clip opening on the white frame (helper D, session 54).
FLASH_FRAMES = 3


def luma(frames: np.ndarray) -> np.ndarray:
    """[N, H, W, 3] uint8 -> [N, H, W] float32 in [0, 1] (BT.601 weights)."""
    f = frames.astype(np.float32) / 255.0
    return f[..., 0] * 0.299 + f[..., 1] * 0.587 + f[..., 2] * 0.114


def _area_weights(n: int, cells: int) -> np.ndarray:
    """[cells, n]: the share of each of ``n`` pixels in each of ``cells`` equal spans of [0, n),
    divided by the span's width, so that weights @ row = the span's mean (exact area averaging)."""
    edges = np.arange(cells + 1, dtype=np.float64) * (n / cells)
    px = np.arange(n, dtype=np.float64)
    overlap = np.minimum(edges[1:, None], px[None, :] + 1) - np.maximum(edges[:-1, None], px[None, :])
    return (np.clip(overlap, 0.0, None) / (n / cells)).astype(np.float32)


def thumbnails(frames: np.ndarray, cells: int = THUMB) -> np.ndarray:
    """[N, H, W, 3] -> [N, ch, cw] area means of luma over the whole frame: ``cells`` equal spans on
    a side of at least ``cells`` px (a pixel across two spans counts in both by its share), one per
    pixel on a side with fewer. Version 1 cropped each side to a multiple of ``cells`` first, so a
    frame of 9-15 px counted only its top-left 8 x 8 pixels and missed a cut below or right of them."""
    y = luma(frames)
    n, h, w = y.shape
    ch, cw = min(cells, h), min(cells, w)
    if h % ch == 0 and w % cw == 0:  # whole blocks: the plain block means (the same numbers, cheaper)
        return y.reshape(n, ch, h // ch, cw, w // cw).mean(axis=(2, 4))
    rows, cols = _area_weights(h, ch), _area_weights(w, cw)
    return np.matmul(rows, np.matmul(y, cols.T))


def content_scores(frames: np.ndarray, thumbs: np.ndarray | None = None) -> np.ndarray:
    """[N] difference of each frame to the previous one (0 for the first), mean abs of thumbnails
    (``thumbs``: those of ``frames``, where the caller has them)."""
    t = thumbnails(frames) if thumbs is None else thumbs
    d = np.abs(np.diff(t, axis=0)).mean(axis=(1, 2))
    return np.concatenate([[0.0], d]).astype(np.float64)


def is_flash(thumbs: np.ndarray, i: int, min_score: float, flash_frames: int = FLASH_FRAMES) -> bool:
    """Whether the change at frame ``i`` reverts: some frame before ``i`` and some frame from ``i`` on,
    at most ``flash_frames`` frames apart between them, differ by less than ``min_score`` (as a cut's
    score is measured). Frames ``i`` .. of a flash differ from both sides; a real cut never comes back."""
    n = len(thumbs)
    for a in range(max(0, i - flash_frames - 1), i):
        for b in range(i, min(n, a + flash_frames + 2)):
            if float(np.abs(thumbs[b] - thumbs[a]).mean()) < min_score:
                return True
    return False


def scene_cuts(scores: np.ndarray, min_score: float, ratio: float, window: int = 2, min_scene_frames: int = 2,
               thumbs: np.ndarray | None = None) -> list[int]:
    """Frame indices where a new scene starts (never 0). A cut needs score >= min_score and
    score >= ratio x the mean score of ``window`` frames on each side. Every scene keeps at least
    ``min_scene_frames`` frames, the first and the last too: a shorter piece at either edge (a black
    first frame of a fade-in, a two-frame file) stays with its neighbour instead of becoming a clip.
    With the frames' ``thumbs`` (``thumbnails``), a change that reverts within FLASH_FRAMES is no cut
    (``is_flash``)."""
    cuts: list[int] = []
    n = len(scores)
    for i in range(min_scene_frames, n - min_scene_frames + 1):
        around = np.concatenate([scores[max(1, i - window) : i], scores[i + 1 : i + 1 + window]])
        base = float(around.mean()) if len(around) else 0.0
        if scores[i] >= min_score and scores[i] >= ratio * max(base, 1e-6):
            if thumbs is not None and is_flash(thumbs, i, min_score):
                continue
            if not cuts or i - cuts[-1] >= min_scene_frames:
                cuts.append(i)
    return cuts


def scenes(n_frames: int, cuts: list[int]) -> list[tuple[int, int]]:
    """[start, end) frame ranges between cuts."""
    edges = [0, *cuts, n_frames]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]
