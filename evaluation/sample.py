"""`lumina sample`: generate from a checkpoint for a prompt and write the media file(s).

Everything needed comes with the checkpoint: the model, the null caption, and how to reload the
text encoder (text_encoder.json) and the latent decoder (latent_encoder.json).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import torch

from modelzoo.rope import Extrapolation, RopeScaling
from modelzoo.transport.inference import DEFAULT_CFG_SCALE

log = logging.getLogger(__name__)

# --extrapolation: "auto", or a RopeScaling to apply beyond the training size ("none": never scale)
AUTO_EXTRAPOLATION = "auto"
EXTRAPOLATION_CHOICES = (AUTO_EXTRAPOLATION, *(s.value for s in RopeScaling))
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

# a modality's own part of lumina sample, where it has one: "module:NAME" of a ModalitySampling
SAMPLE_HOOKS = {
    "multiview": "evaluation.multiview.sample:SAMPLING",
    "speech": "evaluation.speech.sample:SAMPLING",
    "video": "evaluation.video.sample:SAMPLING",
}


@dataclass(frozen=True)
class ModalitySampling:
    """What a modality adds to `lumina sample`, declared in its evaluation/<m>/sample.py and named in
    SAMPLE_HOOKS. The command offers every modality's flags and applies the checkpoint's; a flag of
    another modality is an error naming the modality it is for."""

    # (cfg, ckpt, shape, options) -> (shape, extra model inputs): adapts the latent shape (the
    # length of speech from its phones) or adds conditioning (multi-view cameras); options: an
    # instance of `options` (None without)
    prepare: Callable[..., tuple[list[int], dict]] | None = None
    options: type | None = None  # a dataclass of its own flags: --field-name, or options.<field> in --config and --set
    aliases: dict[str, str] = field(default_factory=dict)  # its name for a generic flag: {"--views": "frames"}
    writer_takes_prompts: bool = False  # its SAMPLE_WRITERS function labels the renders: writer(..., prompts=[...])
    # (cfg, ckpt) -> more keyword arguments of its SAMPLE_WRITERS function (video: the training clips' fps)
    writer_options: Callable[..., dict] | None = None
    # (latent shape, downsample) -> the size as its users name it, in the beyond-the-training-size
    # line (speech: "1056 frames (12.3 s)"); without it, '64x64' as --size and --frames name it
    describe_size: Callable[[list[int], int], str] | None = None


NO_SAMPLING_HOOK = ModalitySampling()


def sampling_of(modality: str) -> ModalitySampling:
    """The modality's ModalitySampling (SAMPLE_HOOKS), or one that adds nothing."""
    spec = SAMPLE_HOOKS.get(modality)
    if spec is None:
        return NO_SAMPLING_HOOK
    module, _, name = spec.partition(":")
    hook = getattr(importlib.import_module(module), name, None)
    if not isinstance(hook, ModalitySampling):
        raise ValueError(f"SAMPLE_HOOKS names {spec} for {modality}, which is no ModalitySampling "
                         f"(README, 'Adding a modality')")
    return hook


def registered_samplings() -> dict[str, ModalitySampling]:
    return {m: sampling_of(m) for m in SAMPLE_HOOKS}


def option_owners() -> dict[str, str]:
    """Each modality's own sample option -> that modality."""
    return {f.name: m for m, s in registered_samplings().items() if s.options for f in dataclasses.fields(s.options)}


def flag_names(config_field: str) -> list[str]:
    """A SampleConfig field's flags: its own, then the aliases modalities give it (--frames, --views)."""
    aliases = [flag for s in registered_samplings().values() for flag, f in s.aliases.items() if f == config_field]
    return [f"--{config_field.replace('_', '-')}", *aliases]


def spelled(config_field: str) -> str:
    """'--prompt (or --text)': a field's flag as an error message names it."""
    first, *others = flag_names(config_field)
    return f"{first} (or {', '.join(others)})" if others else first


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
    if not path.suffix:
        return path.with_suffix(allowed[0])
    if path.suffix.lower() not in allowed:
        raise ValueError(f"--out {out}: {modality} samples are written as {' or '.join(allowed)}")
    return path


# a sample of up to 16x the tokens of the longest training sample (4x each side of an image; the
# papers extrapolate 2-4x a side) is sampled; more is refused unless --max-size-factor is raised
DEFAULT_MAX_SIZE_FACTOR = 16.0
# ... or up to this many tokens, whatever the training size: quick on any machine (a small model's
# 248x248 image, 15,500 tokens: 7 s and 1.5 GB on 2 CPU cores); a toy model's 100 frames stay allowed
MIN_TOKEN_LIMIT = 16384


class _NoScaleGiven(float):
    """SampleConfig.cfg's default: a guidance scale no config file or flag gave, so a config file's
    cfg_scale (the name lumina evaluate's config uses) applies."""


@dataclass
class SampleConfig:
    checkpoint: str = ""  # folder, or a catalog checkpoint id
    prompt: str = ""  # the caption, or the text to say
    out: str = "sample"  # output file; without a suffix the modality's own is added (image and multi-view .png, video .mp4, speech .wav)
    size: str | None = None  # "HxW" in pixels (default: the most common training size, training.json's latent_shape; speech takes its length from the prompt and refuses it)
    frames: int | None = None  # frames, or views: the latent's T (default: that of the most common training shape)
    # the checkpoint modality's own options (its ModalitySampling.options; --help lists them as flags)
    options: dict[str, Any] = field(default_factory=dict)
    catalog: str | None = None  # where the training data's statistics are read (default: the one the checkpoint records)
    vae: str | None = None  # the checkpoint's VAE at a new place (default: where latent_encoder.json says)
    text_path: str | None = None  # its CLIP or LLaMA text encoder at a new place (default: where text_encoder.json says)
    num: int = 1  # samples per prompt
    steps: int = 30  # ODE steps
    cfg: float = _NoScaleGiven(DEFAULT_CFG_SCALE)  # classifier-free guidance scale (--cfg or --cfg-scale)
    # cfg's name in lumina evaluate's config and flag (--cfg-scale): accepted in --config and --set
    # (cfg_scale: 5 was refused as an unknown option); cfg, or a --cfg flag, wins over it
    cfg_scale: float | None = field(default=None, metadata={"internal": True})
    shift: float = 1.0  # time shift of the ODE grid (> 1: more steps near the noise end)
    solver: str = "euler"  # euler, midpoint, rk4, or dopri5 (adaptive)
    seed: int = 0  # initial noise
    # RoPE scaling for a size beyond the training one: auto (time_aware with proportional attention
    # there, nothing within it), none, interpolation, ntk or time_aware
    extrapolation: str = AUTO_EXTRAPOLATION
    # refuse a sample of more tokens than this many times the longest training sample's, and over 16384
    # (time and memory grow with the square of the tokens); raise it to sample larger
    max_size_factor: float = DEFAULT_MAX_SIZE_FACTOR
    # ema: the averaged weights training publishes (what lumina evaluate scores); raw: the optimizer's
    # own weights at that step, which the checkpoint keeps for resuming
    weights: str = "ema"

    def __post_init__(self) -> None:
        if self.cfg_scale is not None and isinstance(self.cfg, _NoScaleGiven):
            self.cfg = self.cfg_scale
        self.cfg, self.cfg_scale = float(self.cfg), None
        # --num 0 ended in a reshape traceback; --steps 0 wrote the initial noise as a sample
        for name in ("num", "steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be at least 1; got {getattr(self, name)}")
        from evaluation.evaluate import WEIGHTS

        if self.weights not in WEIGHTS:
            raise ValueError(f"--weights must be one of {', '.join(WEIGHTS)}; got {self.weights!r}")
        if not self.max_size_factor > 0:
            raise ValueError(f"--max-size-factor must be above 0; got {self.max_size_factor}")
        if self.extrapolation not in EXTRAPOLATION_CHOICES:
            raise ValueError(f"--extrapolation must be one of {', '.join(EXTRAPOLATION_CHOICES)}; got {self.extrapolation!r}")
        from evaluation.sampling import check_guidance, check_sampler

        check_guidance(self.shift, self.cfg, "--cfg")
        check_sampler(self.solver, self.seed)


def training_info(ckpt: Path) -> dict:
    """The checkpoint's training.json: which encoders made its data (a converted release has none)."""
    if not (ckpt / "training.json").is_file():
        raise ValueError(f"{ckpt} has no training.json: a model without recorded encoders (a converted release?); "
                         f"train or fine-tune it on your encoded data first (lumina train --init-from {ckpt})")
    return json.loads((ckpt / "training.json").read_text())


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
    return shape


# every latent shape of the training manifest, in the encoding it was trained on
_TRAINED_SHAPES_SQL = ("SELECT DISTINCT e.shape FROM manifest_members mm JOIN manifests m ON m.name = mm.manifest AND "
                       "m.version = mm.version JOIN encodings e ON e.key = mm.key AND e.kind = 'latent' AND "
                       "e.encoder_fingerprint = m.encoders->>'latent' WHERE mm.manifest = ? AND mm.version = ?")


def trained_shapes(ckpt: Path, catalog: str | None = None) -> list[list[int]]:
    """The latent shapes [C, T, h, w] the checkpoint trained on: every one of its training manifest
    (asked of `catalog`, else the one it records); without a reachable catalog, training.json's
    latent_shapes, its 8 most common (data of many sizes, speech, may have trained on longer ones), or
    in a checkpoint written before those were recorded (2026-12-04), its one latent_shape."""
    from evaluation.training_manifest import query_training_manifest

    if rows := query_training_manifest(ckpt, _TRAINED_SHAPES_SQL, catalog):
        return [list(shape) for shape, in rows]
    info = training_info(ckpt)
    return [list(s) for s, _ in info.get("latent_shapes") or []] or [list(info["latent_shape"])]


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


@torch.no_grad()
def sample_to_files(cfg: SampleConfig) -> list[Path]:
    from encoders.text import load_text_encoder
    from evaluation.sampling import sampling_bar
    from evaluation.evaluate import (check_moved_encoder_flags, checkpoint_modality, load_checkpoint, load_decoder,
                                     recorded_path)
    from modelzoo import sample

    ckpt = Path(cfg.checkpoint)
    shape = latent_shape(ckpt, cfg.size, cfg.frames)  # a bad --size or --frames fails before any model loads
    modality = checkpoint_modality(ckpt)
    check_moved_encoder_flags(ckpt, vae=cfg.vae, text_path=cfg.text_path, text_too=True)
    out = out_path(cfg.out, modality)
    sampling = sampling_of(modality)
    options = modality_options(modality, cfg.options)  # another modality's flag fails before any model loads
    extra: dict = {}
    if sampling.prepare is not None:
        shape, extra = sampling.prepare(cfg, ckpt, shape, options)
    trained = trained_shapes(ckpt, cfg.catalog)
    check_sample_size(ckpt, shape, trained, cfg.max_size_factor, sampling.describe_size)  # before any model loads
    model, null = load_checkpoint(ckpt, weights=cfg.weights)
    t = json.loads((ckpt / "text_encoder.json").read_text())
    with recorded_path(f"{t['name']} text encoder", "--text-path", moved_to=cfg.text_path, recorded=t.get("path")):
        encoder = load_text_encoder(t["name"], cfg.text_path or t.get("path"), layer=t.get("layer", -1),
                                    max_tokens=t.get("max_tokens"), language=t.get("language"))
    if t.get("fingerprint") and encoder.fingerprint != t["fingerprint"]:  # as the latent encoder is checked
        raise ValueError(text_encoder_mismatch(t, cfg.text_path, encoder.fingerprint))
    text = encoder.encode([cfg.prompt] * cfg.num, warn_truncated=False)  # said once below, not per sample
    if text.dropped is not None and (dropped := int(text.dropped.max())):
        log.warning("%s is %d tokens long, more than the %d the checkpoint's %s text encoder reads: its last %d tokens are "
                    "dropped and change nothing in the sample (shorten it)", spelled("prompt"), encoder.max_length + dropped,
                    encoder.max_length, t["name"], dropped)
    gen = torch.Generator().manual_seed(cfg.seed)
    noise = torch.randn([cfg.num, *shape], generator=gen)
    nf, nm = null.expand(cfg.num)
    cond = dict(cap_feats=torch.from_numpy(text.feats).float(), cap_mask=torch.from_numpy(text.mask), **extra)
    uncond = dict(cap_feats=nf, cap_mask=nm, **extra)
    extrapolation = choose_extrapolation(model, trained, shape, cfg.extrapolation,
                                         downsample_of(ckpt), sampling.describe_size)
    with sampling_bar(cfg.num, 1, cfg.solver, cfg.steps) as bar:
        x = sample(model, noise, cond=cond, uncond=uncond, cfg_scale=cfg.cfg, solver=cfg.solver, steps=cfg.steps,
                   shift=cfg.shift, extrapolation=extrapolation, on_model_eval=lambda: bar.update(1))
    from evaluation.sampling import check_finite, settings_of

    settings = settings_of(cfg, cfg.cfg)
    check_finite(x, "samples", settings)  # a black PNG, a GIF, or librosa's traceback otherwise
    decoder = load_decoder(ckpt, cfg.vae)
    decoded = [decoder.decode(z.numpy()) for z in x]
    check_finite(decoded, "decoded samples", settings)
    from evaluation.evaluate import modality_hook

    writer = modality_hook(SAMPLE_WRITERS, modality, "SAMPLE_WRITERS")
    kwargs = sampling.writer_options(cfg, ckpt) if sampling.writer_options is not None else {}
    if sampling.writer_takes_prompts:
        kwargs["prompts"] = [cfg.prompt] * len(decoded)
    return writer(decoded, out, **kwargs)
