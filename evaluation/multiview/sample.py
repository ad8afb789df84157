"""`lumina sample` for multi-view checkpoints: --views N cameras evenly around the object at
--elevation E (default: the demo's 20 degrees) and --radius R (default: the median camera distance
of the training data, else the demo's 1.0), as the frame conditioning."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from encoders.cameras import RING_ELEVATION as ELEVATION, RING_RADIUS as RADIUS, camera_vector, ring_azimuths
from evaluation.config import ModalitySampling
# torch- and numpy-free, for lumina sample --help and its refusals; MultiviewSampleOptions stays importable from here
from evaluation.multiview.sample_flags import FLAGS, MultiviewSampleOptions


def ring_cameras(views: int, elevation: float = ELEVATION, radius: float = RADIUS, start: float | None = None) -> np.ndarray:
    """[views, CAMERA_DIM]: azimuths start + 360 k / views (default start: the demo ring's), in azimuth order."""
    return np.stack([camera_vector(elevation, az, radius) for az in ring_azimuths(views, start)])


def training_radius(ckpt_dir: Path, catalog: str | None = None) -> float | None:
    """The median camera distance of the checkpoint's training data (None when its catalog is not
    reachable): a ring at another distance gives camera vectors the model never saw."""
    from evaluation.training_manifest import query_training_manifest

    rows = query_training_manifest(ckpt_dir, "SELECT median(r) FROM manifest_members, unnest(CAST(meta->'radii' AS "
                                             "DOUBLE[])) AS t(r) WHERE manifest = ? AND version = ?", catalog)
    return float(rows[0][0]) if rows and rows[0][0] else None


def prepare(cfg, ckpt_dir: Path, shape: list[int], options: MultiviewSampleOptions | None = None) -> tuple[list[int], dict]:
    import torch

    options = options or MultiviewSampleOptions()
    views = int(cfg.frames or shape[1])
    elevation = ELEVATION if options.elevation is None else float(options.elevation)
    radius = options.radius or training_radius(ckpt_dir, getattr(cfg, "catalog", None)) or RADIUS
    cams = torch.from_numpy(ring_cameras(views, elevation, radius)).float()
    return [shape[0], views, *shape[2:]], {"frame_cond": cams.expand(cfg.num, -1, -1).contiguous()}


SAMPLING = ModalitySampling(prepare=prepare, options=MultiviewSampleOptions, aliases=FLAGS.aliases)
