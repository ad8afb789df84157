"""`lumina sample` for multi-view checkpoints: --views N cameras evenly around the object at
--elevation E (default: the demo's elevation and radius), as the frame conditioning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from encoders.cameras import RING_ELEVATION as ELEVATION, RING_RADIUS as RADIUS, camera_vector, ring_azimuths


def ring_cameras(views: int, elevation: float = ELEVATION, radius: float = RADIUS, start: float | None = None) -> np.ndarray:
    """[views, CAMERA_DIM]: azimuths start + 360 k / views (default start: the demo ring's), in azimuth order."""
    return np.stack([camera_vector(elevation, az, radius) for az in ring_azimuths(views, start)])


def prepare(cfg, ckpt_dir: Path, shape: list[int]) -> tuple[list[int], dict]:
    views = int(cfg.frames or shape[1])
    elevation = ELEVATION if cfg.elevation is None else float(cfg.elevation)
    if not -90.0 < elevation < 90.0:  # at the poles the ring's cameras all coincide
        raise ValueError(f"--elevation must be between -90 and 90 degrees; got {cfg.elevation}")
    cams = torch.from_numpy(ring_cameras(views, elevation)).float()
    return [shape[0], views, *shape[2:]], {"frame_cond": cams.expand(cfg.num, -1, -1).contiguous()}
