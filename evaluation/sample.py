"""`lumina sample`: generate from a checkpoint for a prompt and write the media file(s).

Everything needed comes with the checkpoint: the model, the null caption, and how to reload the
text encoder (text_encoder.json) and the latent decoder (latent_encoder.json).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import torch

from modelzoo.rope import Extrapolation, RopeScaling
from modelzoo.transport.inference import DEFAULT_CFG_SCALE
# torch-free (evaluation/config.py, evaluation/checks.py), here for every importer of evaluation.sample
from evaluation.checks import check_out_folder, training_info  # noqa: F401
from evaluation.config import (AUTO_EXTRAPOLATION, DEFAULT_MAX_SIZE_FACTOR, EXTRAPOLATION_CHOICES,  # noqa: F401
                               NO_SAMPLING_HOOK, ignored_grid_note, SAMPLE_HOOKS, ModalitySampling, SampleConfig, _NoScaleGiven,
                               registered_samplings, sampling_of)
# the flags' names from the samplers' descriptions: a sample imports its checkpoint's sampler only
from evaluation.sample_flags import flag_names, option_owners, spelled  # noqa: F401

log = logging.getLogger(__name__)

# What auto applies beyond the training size: Lumina-Next's time-aware scaled RoPE, which
# interpolates positions near noise (the layout stays that of a training-size image) and uses the
# Lumina-T2X paper's NTK-aware scaling near data (fine detail); both papers add proportional attention.
AUTO_SCALING = RopeScaling.TIME_AWARE

SAMPLE_WRITERS = {
    "image": "evaluation.image.render:save_images",
    "video": "evaluation.video.render:save_samples",
    "multiview": "evaluation.multiview.render:save_samples",
    "speech": "evaluation.speech.render:save_samples",
}

def modality_options(modality: str, given: dict[str, Any]) -> Any:
    """The checkpoint modality's options (an instance of its ModalitySampling.options, None
    without) from SampleConfig.options; an option of another modality is an error that names it."""
    own = sampling_of(modality).options
    known = {f.name for f in dataclasses.fields(own)} if own else set()
    foreign = [k for k in given if k not in known]
    owners = option_owners()
    if unknown := [k for k in foreign if k not in owners]:
        raise ValueError(f"options.{unknown[0]}: lumina sample has no such option (the modalities' own: "
                         f"{', '.join(sorted(owners)) or 'none'})")
    if foreign:
        flags = " and ".join(f"--{k.replace('_', '-')}" for k in foreign)
        theirs = " or ".join(sorted({owners[k] for k in foreign}))
        raise ValueError(f"{flags} {'is' if len(foreign) == 1 else 'are'} for {theirs} checkpoints; this one is {modality}")
    if own is None:
        return None
    from contracts.config import from_mapping

    return from_mapping(own, given, where=f"{modality} sample options")


def out_path(out: str, modality: str) -> Path:
    """--out as the writer will name it: a missing suffix gets the modality's default (the first of
    its writer module's OUT_SUFFIXES); a suffix it cannot write is an error (it was replaced
    without a word, overwriting a file of that name)."""
    from evaluation.evaluate import modality_hook

    path = Path(out)
    modality_hook(SAMPLE_WRITERS, modality, "SAMPLE_WRITERS")  # an unregistered modality: one line
    allowed = importlib.import_module(SAMPLE_WRITERS[modality].partition(":")[0]).OUT_SUFFIXES
    if out.endswith(("/", os.sep)) or path.name in ("", ".", ".."):  # renders/ wrote renders.png beside it; '.' a ValueError of pathlib's
        raise ValueError(f"--out {out} names a folder: give a file name (e.g. {path / 'sample'}{allowed[0]})")
    if not path.suffix:
        return path.with_suffix(allowed[0])
    if path.suffix.lower() not in allowed:
        raise ValueError(f"--out {out}: {modality} samples are written as {' or '.join(allowed)}")
    return path


# ... or up to this many tokens, whatever the training size: quick on any machine (a small model's
# 248x248 image, 15,500 tokens: 7 s and 1.5 GB on 2 CPU cores); a toy model's 100 frames stay allowed
MIN_TOKEN_LIMIT = 16384


def downsample_of(ckpt: Path) -> int:
    """Pixels per latent pixel of the checkpoint's latent encoder."""
    return json.loads((ckpt / "latent_encoder.json").read_text()).get("downsample", 1)


def latent_shape(ckpt: Path, size: str | None, frames: int | None) -> list[int]:
    info = training_info(ckpt)
    shape = list(info["latent_shape"])  # [C, T, h, w] of a training example
    down = downsample_of(ckpt)
    if frames is not None:
        if int(frames) < 1:
            raise ValueError(f"{spelled('frames')} must be at least 1; got {frames}")
        if shape[1] == 1 and int(frames) != 1:  # it was ignored without a word: one image came out
            raise ValueError(f"{spelled('frames')} {frames}: this checkpoint was trained on single-frame latents "
                             f"({info.get('train_config', {}).get('modality', 'its modality')}), it makes one frame")
        shape[1] = int(frames)
    if size:
        try:
            h, w = (int(v) for v in size.lower().split("x"))
        except ValueError:
            raise ValueError(f"--size expects HxW in pixels, e.g. 32x48; got {size!r}") from None
        if h < down or w < down:
            raise ValueError(f"--size must be at least {down}x{down} pixels (one latent pixel of this checkpoint's "
                             f"encoder); got {size!r}")
        if h % down or w % down:  # it wrote the size rounded down, without a word
            raise ValueError(f"--size must be a multiple of {down} pixels (this checkpoint's encoder downsamples by {down}); "
                             f"got {size!r}: {h // down * down}x{w // down * down} or {-(-h // down) * down}x{-(-w // down) * down}")
        shape[2], shape[3] = h // down, w // down
        check_whole_patches(ckpt, size, shape, down)
    return shape


def check_whole_patches(ckpt: Path, size: str, shape: list[int], down: int) -> None:
    """A --size whose latent the checkpoint's patches do not divide is refused: curation sizes every
    image, frame and view to whole patches, and the model zero-pads another size to them and crops the
    pad off (7x7 on patch 2 came out 7x7 without a word)."""
    from modelzoo.config import FlagDiTConfig

    if not (ckpt / "config.json").is_file():  # no model to pad (a test's bare checkpoint folder)
        return
    patch = json.loads((ckpt / "config.json").read_text()).get("patch_size", FlagDiTConfig.patch_size)
    ph, pw = (patch, patch) if isinstance(patch, int) else (int(v) for v in patch)
    if shape[2] % ph == 0 and shape[3] % pw == 0:
        return
    sh, sw, h, w = ph * down, pw * down, shape[2] * down, shape[3] * down
    near = " or ".join(dict.fromkeys(f"{a}x{b}" for a, b in ((h // sh * sh, w // sw * sw), (-(-h // sh) * sh, -(-w // sw) * sw))
                                     if a and b))
    raise ValueError(f"--size must be a multiple of {sh}x{sw} pixels for this checkpoint (patch {ph}x{pw} on latents its "
                     f"encoder downsamples by {down}: curation sized every training frame or view to whole patches, and the "
                     f"model would zero-pad another size to them); got {size!r}: {near}")


# every latent shape of the training manifest, read where training read it: the manifest's frozen shard
# member. A key curated again at another size has its encodings row moved to the new shard, at a shape
# this checkpoint never trained on, so only rows still naming the frozen member count; `found` of
# `members` says whether every member still has its row.
_TRAINED_SHAPES_SQL = ("SELECT list(DISTINCT e.shape ORDER BY e.shape) FILTER (WHERE e.shape IS NOT NULL), "
                       "count(e.key), count(*) FROM manifest_encodings me LEFT JOIN encodings e ON e.key = me.key "
                       "AND e.kind = me.kind AND e.encoder_fingerprint = me.encoder_fingerprint AND "
                       "e.shard_uri = me.shard_uri AND e.member = me.member "
                       "WHERE me.manifest = ? AND me.version = ? AND me.kind = 'latent'")


def trained_shapes(ckpt: Path, catalog: str | None = None) -> list[list[int]]:
    """The latent shapes [C, T, h, w] the checkpoint trained on: every one of its training manifest
    (asked of `catalog`, else the one it records) while every member's encoding is where the manifest
    froze it; otherwise training.json's latent_shapes (its 8 most common: data of many sizes, speech,
    may have trained on longer ones) with whatever members are still found, or in a checkpoint written
    before those were recorded (2026-12-04), its one latent_shape."""
    from evaluation.training_manifest import query_training_manifest

    rows = query_training_manifest(ckpt, _TRAINED_SHAPES_SQL, catalog)
    found_shapes, found, members = rows[0] if rows else (None, 0, 0)
    in_catalog = [list(s) for s in found_shapes or []]
    if members and found == members:
        return in_catalog
    info = training_info(ckpt)
    recorded = [list(s) for s, _ in info.get("latent_shapes") or []] or [list(info["latent_shape"])]
    return recorded + [s for s in in_catalog if s not in recorded]


def beyond_training(model, shape: list[int], trained: list[list[int]]) -> bool:
    """Whether a sample of `shape` reaches RoPE positions no training sample had: a patch row or
    column past the longest trained (axial RoPE; frames never rescale), or a token past the longest
    trained sequence (the paper's 1-D RoPE over the flattened sequence)."""
    from modelzoo.config import RopeKind

    if model.config.rope is RopeKind.FLAT:
        return model.seq_len(shape) > max(model.seq_len(s) for s in trained)
    ph, pw = model.config.patch_hw
    rows, cols = (lambda s: -(-s[2] // ph)), (lambda s: -(-s[3] // pw))  # patches, as the model cuts them
    return rows(shape) > max(map(rows, trained)) or cols(shape) > max(map(cols, trained))


SCALING_NAMES = {RopeScaling.TIME_AWARE: "time-aware scaled RoPE", RopeScaling.NTK: "NTK-aware scaled RoPE",
                 RopeScaling.INTERPOLATION: "position-interpolated RoPE"}


def _pixels(shape: list[int], downsample: int) -> str:
    """'64x64' (or '64x64 x 8 frames'): a latent shape as --size and --frames name it."""
    size = f"{shape[2] * downsample}x{shape[3] * downsample}"
    return size + (f" x {shape[1]} frames" if shape[1] > 1 else "")


def choose_extrapolation(model, trained: list[list[int]], shape: list[int], choice: str,
                         downsample: int = 1, describe: Callable[[list[int], int], str] | None = None) -> Extrapolation | None:
    """The Extrapolation to sample `shape` with, for --extrapolation `choice`, given the latent shapes
    the model `trained` on; None samples as trained. Only a sample beyond the training size is
    scaled (a smaller one reaches no unseen position), and then it is said once, with how many
    times the training area it is (`describe` names a size; default: as --size and --frames do)."""
    what_area = "area" if describe is None else "size"  # a hook's sizes (a speech length) have no area
    describe = describe or _pixels
    if choice == RopeScaling.NONE.value:
        return None
    if not beyond_training(model, shape, trained):
        if choice != AUTO_EXTRAPOLATION:  # asked for by name: say why it changes nothing
            log.warning("--extrapolation %s: %s is within the training size, so nothing is scaled", choice,
                        describe(shape, downsample))
        return None
    rope = AUTO_SCALING if choice == AUTO_EXTRAPOLATION else RopeScaling(choice)
    largest = max(trained, key=lambda s: (s[2] * s[3], s[1]))
    times = shape[1] * shape[2] * shape[3] / (largest[1] * largest[2] * largest[3])
    what = what_area if shape[1] == largest[1] else "size"
    log.warning("%s is %.1fx the training %s (%s): sampling with %s and proportional attention (--extrapolation none "
                "samples as trained)", describe(shape, downsample), times, what, describe(largest, downsample), SCALING_NAMES[rope])
    # train_size gives the axial RoPE its per-axis scales; the longest trained sequence is the 1-D
    # RoPE's N_train and proportional attention's
    return Extrapolation(train_seq_len=max(model.seq_len(s) for s in trained), rope=rope, proportional_attn=True,
                         train_size=(max(s[2] for s in trained), max(s[3] for s in trained)))


def check_sample_size(ckpt: Path, shape: list[int], trained: list[list[int]], factor: float,
                      describe: Callable[[list[int], int], str] | None = None) -> None:
    """A sample of more than ``factor`` times the tokens of the longest training sample is refused
    before any model loads, in one line with the limit and the flag that raises it: a 4096x4096
    sample of a 32x32 model (4.2M tokens) ran for minutes to 9.7 GB with its bar at 0."""
    from modelzoo import FlagDiT
    from modelzoo.config import FlagDiTConfig

    with warnings.catch_warnings():  # a config's advice (patch_dim > dim) is the model load's to give, once
        warnings.simplefilter("ignore")
        config = FlagDiTConfig.from_dict(json.loads((ckpt / "config.json").read_text()))
    tokens = lambda s: FlagDiT.seq_len(SimpleNamespace(config=config), s)  # noqa: E731 - the model's count, without its weights
    largest = max(trained, key=tokens)
    n, limit = tokens(shape), max(factor * tokens(largest), MIN_TOKEN_LIMIT)
    if n > limit:
        describe, down = describe or _pixels, downsample_of(ckpt)
        raise ValueError(f"{describe(shape, down)} is {n:,} tokens a sample, {n / tokens(largest):,.0f}x the longest training "
                         f"sample's {tokens(largest):,} ({describe(largest, down)}), above the limit of {int(limit):,} "
                         f"(--max-size-factor {factor:g} times that, at least {MIN_TOKEN_LIMIT:,}; time and memory grow with "
                         f"the square of the tokens): sample a smaller size, or raise --max-size-factor to sample it anyway")


def text_encoder_mismatch(recorded: dict, given_path: str | None, got: str) -> str:
    """The one line for a text encoder other than the one the checkpoint's captions were encoded
    by, naming the folder actually loaded (it named the recorded one, so a wrong --text-path read
    as "your original encoder changed")."""
    used = given_path or recorded.get("path")
    head = f"the {recorded['name']} text encoder" + (f" at {used}" if used else "")
    why = ("give --text-path the folder of that encoder" if given_path else
           "the encoder changed since (its weights, or the phone encoder's inventory version)")
    return f"{head} is {got}, not {recorded['fingerprint']}, which the checkpoint's captions were encoded by: {why}"


def refuse_other_text_encoder(recorded: dict, encoder: Any, given_path: str | None) -> None:
    """As the latent encoder is checked: the checkpoint's text encoder (its text_encoder.json), by its
    fingerprint or, where both recorded it, the weight files it reads (a variant downloaded beside
    them later, as a hub snapshot grows, refused a checkpoint whose weights were the same)."""
    from encoders.fingerprint import same_encoder

    if not same_encoder(recorded, encoder):
        raise ValueError(text_encoder_mismatch(recorded, given_path, encoder.fingerprint))


@torch.no_grad()
def sample_to_files(cfg: SampleConfig) -> list[Path]:
    from encoders.device import usable_device
    from encoders.text import load_text_encoder
    from evaluation.sampling import moved, sampling_bar
    from evaluation.evaluate import (check_moved_encoder_flags, checkpoint_modality, load_checkpoint, load_decoder,
                                     recorded_path)
    from modelzoo import sample

    device = usable_device(cfg.device)  # auto: cuda when torch sees a GPU (as lumina train), else cpu
    ckpt = Path(cfg.checkpoint)
    training_info(ckpt)  # a checkpoint without one (a converted release): its own line first
    modality = checkpoint_modality(ckpt)
    sampling = sampling_of(modality)
    if sampling.check_flags is not None:  # a generic flag the modality has no use for: its own line
        sampling.check_flags(cfg)
    shape = latent_shape(ckpt, cfg.size, cfg.frames)  # a bad --size or --frames fails before any model loads
    check_moved_encoder_flags(ckpt, vae=cfg.vae, text_path=cfg.text_path, text_too=True)
    out = out_path(cfg.out, modality)
    check_out_folder(out, "--out")  # a file in the way was said after the sampling
    options = modality_options(modality, cfg.options)  # another modality's flag fails before any model loads
    extra: dict = {}
    if sampling.prepare is not None:
        shape, extra = sampling.prepare(cfg, ckpt, shape, options)
    trained = trained_shapes(ckpt, cfg.catalog)
    check_sample_size(ckpt, shape, trained, cfg.max_size_factor, sampling.describe_size)  # before any model loads
    model, null = load_checkpoint(ckpt, weights=cfg.weights, device=device)
    t = json.loads((ckpt / "text_encoder.json").read_text())
    try:
        with recorded_path(f"{t['name']} text encoder", "--text-path", moved_to=cfg.text_path, recorded=t.get("path")):
            encoder = load_text_encoder(t["name"], cfg.text_path or t.get("path"), layer=t.get("layer", -1),
                                        max_tokens=t.get("max_tokens"), language=t.get("language"), device=device)
    except (ValueError, FileNotFoundError) as e:
        said = re.match(r"--text (\w+)(?=:)", str(e))  # `lumina encode`'s flag, as the encoders name it
        if not cfg.text_path or said is None:
            raise
        # here --text is speech's prompt, and the folder came from --text-path
        raise type(e)(f"--text-path ({said[1]} text encoder){str(e)[said.end():]}") from None
    refuse_other_text_encoder(t, encoder, cfg.text_path)
    # the VAE's fingerprint too, before the sampling: a --vae of another VAE was refused after every step
    decoder = load_decoder(ckpt, cfg.vae, device)
    text = encoder.encode([cfg.prompt] * cfg.num, warn_truncated=False)  # said once below, not per sample
    if text.dropped is not None and (dropped := int(text.dropped.max())):
        last = ("its last token is dropped and changes" if dropped == 1 else
                f"its last {dropped} tokens are dropped and change")
        log.warning("%s is %d tokens long, more than the %d the checkpoint's %s text encoder reads: %s nothing in the "
                    "sample (shorten it)", spelled("prompt"), encoder.max_length + dropped,
                    encoder.max_length, t["name"], last)
    gen = torch.Generator().manual_seed(cfg.seed)  # on the CPU: a seed draws the same noise on any device
    noise = torch.randn([cfg.num, *shape], generator=gen).to(device)
    nf, nm = null.expand(cfg.num)
    cond = moved(dict(cap_feats=torch.from_numpy(text.feats).float(), cap_mask=torch.from_numpy(text.mask), **extra), device)
    uncond = moved(dict(cap_feats=nf, cap_mask=nm, **extra), device)
    if note := ignored_grid_note(cfg.solver, cfg.steps, cfg.shift):
        log.warning("%s", note)
    extrapolation = choose_extrapolation(model, trained, shape, cfg.extrapolation,
                                         downsample_of(ckpt), sampling.describe_size)
    with sampling_bar(cfg.num, 1, cfg.solver, cfg.steps) as bar:
        x = sample(model, noise, cond=cond, uncond=uncond, cfg_scale=cfg.cfg, solver=cfg.solver, steps=cfg.steps,
                   shift=cfg.shift, extrapolation=extrapolation, on_model_eval=lambda: bar.update(1)).cpu()
    from evaluation.sampling import check_finite, settings_of

    settings = settings_of(cfg, cfg.cfg)
    check_finite(x, "samples", settings)  # a black PNG, a GIF, or librosa's traceback otherwise
    decoded = [decoder.decode(z.numpy()) for z in x]
    check_finite(decoded, "decoded samples", settings)
    from evaluation.evaluate import modality_hook

    writer = modality_hook(SAMPLE_WRITERS, modality, "SAMPLE_WRITERS")
    kwargs = sampling.writer_options(cfg, ckpt) if sampling.writer_options is not None else {}
    if sampling.writer_takes_prompts:
        kwargs["prompts"] = [cfg.prompt] * len(decoded)
    return writer(decoded, out, **kwargs)
