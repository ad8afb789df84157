"""`lumina sample` hook for video: the frame rate the clips are written at is that of the
checkpoint's training clips (their curated meta ``sample_fps``, read from its catalog), and a
``--frames`` beyond the frame count it was trained on is said once."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from evaluation.config import ModalitySampling  # torch-free: lumina sample --help lists these flags

log = logging.getLogger(__name__)


def trained_frames(ckpt: Path) -> int | None:
    """The most frames of any training clip (training.json's latent_shapes, else latent_shape)."""
    try:
        info = json.loads((Path(ckpt) / "training.json").read_text())
    except (OSError, ValueError):
        return None
    shapes = [s for s, _ in info.get("latent_shapes") or []] or ([info["latent_shape"]] if info.get("latent_shape") else [])
    return max(int(s[1]) for s in shapes) if shapes else None


def training_fps(ckpt: Path, catalog: str | None = None) -> float | None:
    """The median ``sample_fps`` (one over the spacing of a clip's frames) of the checkpoint's
    training clips, asked of its catalog; None when it cannot be reached or records none."""
    from evaluation.training_manifest import query_training_manifest

    rows = query_training_manifest(ckpt, "SELECT median(f) FROM (SELECT TRY_CAST(meta->>'sample_fps' AS DOUBLE) AS f "
                                         "FROM manifest_members WHERE manifest = ? AND version = ?) WHERE f > 0", catalog)
    return round(float(rows[0][0]), 4) if rows and rows[0][0] else None


def refuse_other_modalities_names(cfg) -> None:
    """Another modality's name for a generic flag (multi-view's --views for --frames, speech's --text
    for --prompt) on a video checkpoint: refused, naming the flag to give (--views 8 made 8 frames
    without a word). ``cfg.given_as``: field -> the alias flag the command line gave it by (the
    lumina sample command records it; a cfg without it has nothing to refuse)."""
    given = getattr(cfg, "given_as", None) or {}
    if not given:
        return
    from evaluation.sample_flags import declared_sample_flags

    owners = {flag: m for m, f in declared_sample_flags().items() for flag in f.aliases}
    for name, flag in sorted(given.items()):
        owner = owners.get(flag)
        if owner and owner != "video":
            what = "the number of frames" if name == "frames" else "it"
            raise ValueError(f"{flag} is for {owner} checkpoints; this one is video: give {what} as --{name.replace('_', '-')}")


def prepare(cfg, ckpt: Path, shape: list[int], options: None = None) -> tuple[list[int], dict]:
    frames, trained = getattr(cfg, "frames", None), trained_frames(ckpt)
    if frames is not None and trained is not None and int(frames) > trained:
        # --frames alone: a video checkpoint refuses multi-view's --views (check_flags)
        log.warning("--frames %d: this checkpoint was trained on clips of %d frames; frames %d-%d are beyond what it learnt "
                    "and usually come out garbled", int(frames), trained, trained + 1, int(frames))
    return shape, {}


def writer_options(cfg, ckpt: Path) -> dict:
    """The writer's fps: the training clips' (None: the writer's default, with a warning)."""
    fps = training_fps(ckpt, getattr(cfg, "catalog", None))
    if fps:  # said beside the paths lumina sample prints (None: the writer warns of its default)
        print(f"video: written at {fps:g} fps, the frame rate of the training clips (their meta sample_fps)", file=sys.stderr)
    return {"fps": fps}


SAMPLING = ModalitySampling(prepare=prepare, writer_options=writer_options, check_flags=refuse_other_modalities_names)
