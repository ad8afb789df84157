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


def _patch_pixels(ckpt: Path) -> tuple[int, int, int]:
    """(patch height, patch width, pixels per latent pixel) of the checkpoint, its defaults where unrecorded."""
    from modelzoo.config import FlagDiTConfig

    def read(name: str) -> dict:
        try:
            return json.loads((Path(ckpt) / name).read_text())
        except (OSError, ValueError):
            return {}

    patch = read("config.json").get("patch_size", FlagDiTConfig.patch_size)
    ph, pw = (patch, patch) if isinstance(patch, int) else (int(v) for v in patch)
    return ph, pw, int(read("latent_encoder.json").get("downsample", 1))


def check_whole_patches(cfg, ckpt: Path, shape: list[int]) -> None:
    """A --size whose latent the checkpoint's patches do not divide is refused, as curation never makes
    one (it crops every frame to whole patches of patch_size x vae_factor pixels): the model zero-pads
    such a latent to whole patches and crops the pad off its output, a border of zeros among the noise
    that no training clip had. --size 7x7 on patch 2 came out 7x7 without a word (helper H, session 52)."""
    if not getattr(cfg, "size", None):
        return
    ph, pw, down = _patch_pixels(ckpt)
    if shape[2] % ph == 0 and shape[3] % pw == 0:
        return
    step_h, step_w = ph * down, pw * down
    h, w = shape[2] * down, shape[3] * down
    below = (h // step_h * step_h, w // step_w * step_w)
    above = (-(-h // step_h) * step_h, -(-w // step_w) * step_w)
    sizes = " or ".join(f"{a}x{b}" for a, b in dict.fromkeys([below, above]) if a and b)
    raise ValueError(f"--size must be a multiple of {step_h}x{step_w} pixels for this checkpoint (patch {ph}x{pw} on latents its "
                     f"encoder downsamples by {down}: curation sized every training frame or view to whole patches, and the model "
                     f"would zero-pad another size to them); got {cfg.size!r}: {sizes}")


def prepare(cfg, ckpt: Path, shape: list[int], options: None = None) -> tuple[list[int], dict]:
    check_whole_patches(cfg, ckpt, shape)  # before any model loads
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
