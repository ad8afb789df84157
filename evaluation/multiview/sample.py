"""`lumina sample` for multi-view checkpoints: --views N cameras evenly around the object at
--elevation E (default: the median camera elevation of the training data, else the demo's 20
degrees) and --radius R (default: the median camera distance of the training data, else the demo's
1.0), as the frame conditioning."""

from __future__ import annotations

import sys
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
    catalog = getattr(cfg, "catalog", None)
    trained_elevation = None if options.elevation is not None else training_median(ckpt_dir, "elevations", catalog)
    elevation = float(options.elevation) if options.elevation is not None else trained_elevation
    elevation = ELEVATION if elevation is None else elevation
    trained_radius = None if options.radius else training_radius(ckpt_dir, catalog)
    radius = options.radius or trained_radius or RADIUS
    # the strip and GIF carry no cameras: said beside the paths lumina sample prints, as video says its fps
    print("multi-view: " + ring_description(views, elevation, _origin(options.elevation is not None, trained_elevation),
                                            radius, _origin(bool(options.radius), trained_radius)), file=sys.stderr)
    cams = torch.from_numpy(ring_cameras(views, elevation, radius)).float()
    return [shape[0], views, *shape[2:]], {"frame_cond": cams.expand(cfg.num, -1, -1).contiguous()}


def _origin(flag_given: bool, trained: float | None) -> str:
    if flag_given:
        return "as asked"
    return "the training data's median" if trained is not None else "the default: no training cameras found"


def ring_description(views: int, elevation: float, elevation_from: str, radius: float, radius_from: str) -> str:
    """'4 views, left to right at azimuth 45, 135, 225, 315 degrees; elevation 20 degrees (...); radius 2 (...)'."""
    azimuths = ", ".join(f"{az:g}" for az in ring_azimuths(views))
    return (f"{views} view{'s' if views != 1 else ''}, left to right at azimuth {azimuths} degrees; elevation {elevation:g} "
            f"degrees ({elevation_from}); radius {radius:g} ({radius_from})")


def describe_views(shape: list[int], downsample: int = 1) -> str:
    """'16x16 x 8 views': a view set as --size and --views name it (the generic line said '8 frames')."""
    return f"{shape[2] * downsample}x{shape[3] * downsample} x {shape[1]} view{'s' if shape[1] != 1 else ''}"


SAMPLING = ModalitySampling(prepare=prepare, options=MultiviewSampleOptions, aliases=FLAGS.aliases,
                            describe_size=describe_views)
