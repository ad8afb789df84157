"""`lumina sample` for multi-view checkpoints: --views N cameras evenly around the object at
--elevation E (default: the median camera elevation of the training data, else the demo's 20
degrees) and --radius R (default: the median camera distance of the training data, else the demo's
1.0), as the frame conditioning."""

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


def training_median(ckpt_dir: Path, field: str, catalog: str | None = None) -> float | None:
    """The median over the checkpoint's training views of a camera figure the curated meta lists per
    view (``radii``, ``elevations``); None when its catalog is not reachable or holds none."""
    from evaluation.training_manifest import query_training_manifest

    assert field in ("radii", "elevations")
    rows = query_training_manifest(ckpt_dir, f"SELECT median(r) FROM manifest_members, unnest(CAST(meta->'{field}' AS "
                                             "DOUBLE[])) AS t(r) WHERE manifest = ? AND version = ?", catalog)
    return float(rows[0][0]) if rows and rows[0][0] is not None else None


def training_radius(ckpt_dir: Path, catalog: str | None = None) -> float | None:
    """The median camera distance of the checkpoint's training data: a ring at another distance
    gives camera vectors the model never saw."""
    radius = training_median(ckpt_dir, "radii", catalog)
    return radius or None  # 0 is no distance to stand at


def prepare(cfg, ckpt_dir: Path, shape: list[int], options: MultiviewSampleOptions | None = None) -> tuple[list[int], dict]:
    import torch

    options = options or MultiviewSampleOptions()
    views = int(cfg.frames or shape[1])
    # as the radius: a user's renders from 40 degrees up were sampled at the demo's 20 (camera
    # vectors the model never saw)
    elevation = float(options.elevation) if options.elevation is not None else training_median(
        ckpt_dir, "elevations", getattr(cfg, "catalog", None))
    elevation = ELEVATION if elevation is None else elevation
    radius = options.radius or training_radius(ckpt_dir, getattr(cfg, "catalog", None)) or RADIUS
    cams = torch.from_numpy(ring_cameras(views, elevation, radius)).float()
    return [shape[0], views, *shape[2:]], {"frame_cond": cams.expand(cfg.num, -1, -1).contiguous()}


def describe_views(shape: list[int], downsample: int = 1) -> str:
    """'16x16 x 8 views': a view set as --size and --views name it (the generic line said '8 frames')."""
    return f"{shape[2] * downsample}x{shape[3] * downsample} x {shape[1]} view{'s' if shape[1] != 1 else ''}"


SAMPLING = ModalitySampling(prepare=prepare, options=MultiviewSampleOptions, aliases=FLAGS.aliases,
                            describe_size=describe_views)
