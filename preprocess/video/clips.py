"""From a decoded scene to the frames of one clip: fps normalisation, frame sampling, resize.

The clip is first resampled to the configured rate (nearest source frame to each tick, so
variable-rate sources become regular), then ``frames`` frames are taken evenly over it, so every
clip spans its whole scene whatever its length (``frames`` 0 keeps every tick instead: the clip's own
length at one rate, up to ``max_seconds``). Frames are resized to the token budget keeping the
aspect ratio by the image modality's rule (preprocess/image/resize.py ``grid_size``: scale down, crop at
most one grid unit per side; a frame only a unit or two across, which that crop would take from
33x31 to 32x16, gets the grid size next to its own with the nearest aspect instead: 32x32).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from preprocess.image.resize import grid_size


def resample(times: np.ndarray, start: float, end: float, fps: float) -> np.ndarray:
    """Indices of the source frames nearest to the ticks start, start + 1/fps, ... < end."""
    ticks = start + np.arange(max(1, int(np.floor((end - start) * fps + 1e-6)))) / fps
    idx = np.searchsorted(times, ticks)
    idx = np.clip(idx, 0, len(times) - 1)
    prev = np.clip(idx - 1, 0, len(times) - 1)
    nearer_prev = np.abs(times[prev] - ticks) <= np.abs(times[idx] - ticks)
    return np.where(nearer_prev, prev, idx)


def sample_evenly(indices: np.ndarray, frames: int) -> np.ndarray:
    """``frames`` indices spread evenly over ``indices`` (all of them when there are fewer)."""
    if len(indices) <= frames:
        return indices
    pos = np.round(np.linspace(0, len(indices) - 1, frames)).astype(int)
    return indices[pos]


def sample_rate(times: np.ndarray, picked: np.ndarray) -> float:
    """The rate of the picked frames: (frames - 1) over the time from the first picked frame to the
    last, i.e. one over their mean spacing (frames 0, 5, 10, 15 of an 8 fps clip: 1.6 fps; not
    (frames - 1) / duration = 1.5, nor frames / duration = 2.0). 0.0 for a single frame."""
    if len(picked) < 2:
        return 0.0
    span = float(times[picked[-1]] - times[picked[0]])
    return round((len(picked) - 1) / span, 4) if span > 0 else 0.0


def resize_frames(frames: np.ndarray, max_tokens: int, unit: int, grey: bool) -> np.ndarray:
    """[T, H, W, 3] uint8 -> [T, h, w, C] uint8 fitted to the budget; C = 1 when grey."""
    h, w = frames.shape[1:3]
    (rw, rh), (cw, ch) = grid_size(w, h, max_tokens, unit)
    left, top = (rw - cw) // 2, (rh - ch) // 2
    out = []
    for f in frames:
        img = Image.fromarray(f)
        if grey:
            img = img.convert("L")
        if (rw, rh) != (w, h):
            img = img.resize((rw, rh), Image.BICUBIC)
        img = img.crop((left, top, left + cw, top + ch))
        a = np.asarray(img)
        out.append(a[..., None] if a.ndim == 2 else a)
    return np.stack(out)
