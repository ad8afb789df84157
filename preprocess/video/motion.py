"""Motion of a clip: how much it moves (static clips teach nothing about motion) and how steadily
(shaking back and forth is jitter, not motion).

- ``motion``: mean absolute luma difference between consecutive frames, in [0, 1].
- ``jitter``: path length over net displacement of the global translation between consecutive
  frames (FFT cross-correlation): 1 for steady motion in one direction, large when the
  picture shakes back and forth.
"""

from __future__ import annotations

import numpy as np

from preprocess.video.scenes import luma


def motion_score(frames: np.ndarray) -> float:
    if len(frames) < 2:
        return 0.0
    y = luma(frames)
    return float(np.abs(np.diff(y, axis=0)).mean())


def global_shift(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(dy, dx) that moves frame a onto frame b: the peak of their FFT cross-correlation (what
    scikit-image's phase_cross_correlation does without normalisation, at a fraction of its cost
    on small frames)."""
    a, b = a - a.mean(), b - b.mean()
    corr = np.fft.ifft2(np.conj(np.fft.fft2(a)) * np.fft.fft2(b)).real
    dy, dx = np.unravel_index(int(np.argmax(corr)), corr.shape)
    h, w = corr.shape
    return float(dy - h if dy > h // 2 else dy), float(dx - w if dx > w // 2 else dx)


def displacements(frames: np.ndarray) -> np.ndarray:
    """[N-1, 2] (dy, dx) shifts from each frame to the next, in whole pixels."""
    y = luma(frames)
    out = [(0.0, 0.0) if a.std() < 1e-6 or b.std() < 1e-6 else global_shift(a, b)  # blank frames: no defined shift
           for a, b in zip(y[:-1], y[1:])]
    return np.asarray(out, dtype=np.float64).reshape(-1, 2)


def jitter_score(frames: np.ndarray) -> float:
    d = displacements(frames)
    path = float(np.linalg.norm(d, axis=1).sum())
    if path < 1e-6:
        return 1.0  # no translation at all: static, which the motion score judges
    net = float(np.linalg.norm(d.sum(axis=0)))
    return path / max(net, 0.25)
