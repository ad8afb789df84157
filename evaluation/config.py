"""The options of lumina evaluate and lumina sample (EvalConfig, SampleConfig) and what their flags
need (each modality's ModalitySampling, the --extrapolation choices), without torch: --help and
every refusal of a flag or a value happen before evaluation/evaluate.py and evaluation/sample.py
(which re-export these names) import torch and the model. The sampler checks of __post_init__
(check_guidance, check_sampler) are here for the same reason."""

from __future__ import annotations

import importlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from encoders.device import AUTO as AUTO_DEVICE, check_device

# modelzoo.transport.inference.DEFAULT_CFG_SCALE, which imports torch (tests/cli/test_cli_imports.py
# checks the two agree)
DEFAULT_CFG_SCALE = 4.0

# --extrapolation: "auto", or a RopeScaling to apply beyond the training size ("none": never scale)
AUTO_EXTRAPOLATION = "auto"
# modelzoo.rope.RopeScaling's values, which imports torch (tests/cli/test_cli_imports.py checks they agree)
EXTRAPOLATION_CHOICES = (AUTO_EXTRAPOLATION, "none", "interpolation", "ntk", "time_aware")

# a sample of up to 16x the tokens of the longest training sample (4x each side of an image; the
# papers extrapolate 2-4x a side) is sampled; more is refused unless --max-size-factor is raised
DEFAULT_MAX_SIZE_FACTOR = 16.0

WEIGHTS = ("ema", "raw")  # a checkpoint's published EMA weights, or the raw ones its resume state keeps

# modelzoo.transport.samplers.Solver's values, which imports torch (tests/cli/test_cli_imports.py checks they agree)
SOLVERS = ("euler", "midpoint", "rk4", "dopri5")
MAX_SEED = 2**63 - 1

# the judge cache (<workspace>/cache/judges, evaluation/judging.cached_fit): at most this many MB
# (10**6 bytes) of judges, the least recently used removed when a new one is written; a judge is
# 70-90 KB, so the default keeps about 1200. 0: no judge is kept (each evaluation trains its own).
JUDGE_CACHE_ENV = "LUMINA_JUDGE_CACHE_MB"
DEFAULT_JUDGE_CACHE_MB = 100.0


def judge_cache_limit() -> int:
    """The bytes the judge cache may hold: ``$LUMINA_JUDGE_CACHE_MB`` MB (default 100), refused in one
    line where it is no number of at least 0 (checked before an evaluation samples anything)."""
    import os

    raw = os.environ.get(JUDGE_CACHE_ENV, "").strip()
    if not raw:
        return int(DEFAULT_JUDGE_CACHE_MB * 1e6)
    try:
        mb = float(raw)
    except ValueError:
        mb = math.nan
    if not (math.isfinite(mb) and mb >= 0):
        raise ValueError(f"{JUDGE_CACHE_ENV} must be a number of megabytes the judge cache may hold, at least 0 (0: keep "
                         f"no judge; unset: {DEFAULT_JUDGE_CACHE_MB:g}); got {raw!r}")
    return int(mb * 1e6)


def check_guidance(shift: float, cfg: float, cfg_flag: str = "--cfg-scale") -> None:
    """Settings that make every sample NaN (--shift 0 or inf, a non-finite guidance scale), sample
    off the time grid (a negative shift) or away from the prompt (a negative guidance scale) are
    refused before any model loads: they wrote black images, logged metrics of 0.0 over a
    checkpoint's real ones, or ended in a traceback."""
    if not (math.isfinite(shift) and shift > 0):
        raise ValueError(f"--shift must be a finite number above 0 (1: the grid as trained; above 1: more steps near the "
                         f"noise end); got {shift}")
    if not math.isfinite(cfg):
        raise ValueError(f"{cfg_flag} must be a finite number (1: no guidance; {cfg_flag} 4 is the default); got {cfg}")
    # w in u + w (c - u): 0 samples the null caption's prediction alone, 1 the prompt's; below 0 steers
    # every sample away from the prompt, which no one asking for a prompt wants (--cfg -1 wrote one, exit 0)
    if cfg < 0:
        raise ValueError(f"{cfg_flag} must be a finite number, 0 or more (0: as if no prompt were given; 1: the prompt "
                         f"without guidance; above 1: guided, {cfg_flag} 4 is the default; below 0 would steer samples "
                         f"away from the prompt); got {cfg}")


def check_sampler(solver: str, seed: int) -> None:
    """An unknown --solver and a --seed torch cannot take are refused before any model loads (the
    solver was refused after the model loaded, without the choices; a seed past 64 bits ended in
    "Overflow when unpacking long long", a negative one in numpy's "expected non-negative integer")."""
    if solver not in SOLVERS:  # as Solver(solver) says it
        raise ValueError(f"--solver: {solver!r} is not a solver: choose from {', '.join(SOLVERS)}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"--seed must be between 0 and {MAX_SEED} (2**63 - 1); got {seed}")


ADAPTIVE_SOLVERS = ("dopri5",)  # modelzoo.transport.samplers.integrate: they step from end to end on their own


def ignored_grid_note(solver: str, steps: int, shift: float) -> str | None:
    """What an adaptive --solver leaves unused, said once: dopri5 chooses its own steps between the
    grid's end points, so --steps and --shift changed nothing without a word (an evaluation's
    settings still read 'steps 2')."""
    if solver not in ADAPTIVE_SOLVERS:
        return None
    return (f"--solver {solver} chooses its own steps to a tolerance: --steps {steps} and --shift {shift:g} are not used "
            f"(the fixed-step solvers euler, midpoint and rk4 use them)")


def default_out_dir(checkpoint: str, manifest_id: str) -> str:
    """Where an evaluation's metrics.json and renders go by default: beside a run's checkpoint,
    ``<run>/eval/<checkpoint-N>/<manifest>@v<N>``, since keep_last deletes a pruned checkpoint's folder
    with all it holds (they were inside it, and went with it, even while the evaluation ran); for a
    checkpoint folder named otherwise than ``checkpoint-N`` (a converted release), ``<checkpoint>/eval/<manifest>@v<N>``
    (the name decides: a run's checkpoint copied elsewhere gets ``eval/`` beside it, as in its run)."""
    folder = Path(checkpoint)
    if re.fullmatch(r"checkpoint-\d+", folder.name):
        return str(folder.parent / "eval" / folder.name / manifest_id)
    return str(folder / "eval" / manifest_id)


@dataclass
class EvalConfig:
    manifest: str = ""  # the held-out selection (name or name@vN)
    checkpoint: str = ""  # folder, or a catalog checkpoint id
    catalog: str | None = None  # default: the workspace's
    out_dir: str | None = None  # default: <run>/eval/<checkpoint-N>/<manifest>@v<N>, beside the checkpoint (a folder not named checkpoint-N: <checkpoint>/eval/<manifest>@v<N>)
    manifest_version: int | None = None  # default: the newest (or the N of name@vN)
    samples_per_class: int = 10  # generated per label (digit, shape) for the accuracy metrics; speech: at most one per real held-out take of a digit, and it also caps the phrases evaluated (the metrics and a warning give the counts); multi-view: not used (every held-out set is generated)
    grid_size: int = 16  # samples in the rendered grid (GIFs, views, spectrograms)
    steps: int = 30  # ODE steps per sample
    solver: str = "euler"  # euler, midpoint, rk4, or dopri5 (adaptive)
    cfg_scale: float = DEFAULT_CFG_SCALE  # classifier-free guidance scale, 4 as in lumina sample (the image demo evaluates at 6)
    vae: str | None = None  # the checkpoint's VAE at a new place (default: where latent_encoder.json says)
    shift: float = 1.0  # time shift of the ODE grid (> 1: more steps near the noise end)
    batch_size: int = 100  # samples per model call
    max_heldout: int | None = 4096  # held-out members read: the first N by key, an unbiased subset (none: all of them)
    seed: int = 0  # initial noise
    device: str = AUTO_DEVICE  # where the model and the VAE run: auto (cuda when torch sees a GPU, as lumina train; else cpu), cpu, cuda or cuda:N

    def __post_init__(self) -> None:
        check_device(self.device)
        for name in ("samples_per_class", "grid_size", "steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1; got {getattr(self, name)}")
        if self.max_heldout is not None and self.max_heldout < 1:
            raise ValueError(f"--max-heldout must be at least 1 (or none: every member); got {self.max_heldout}")
        check_guidance(self.shift, self.cfg_scale, "--cfg-scale")
        check_sampler(self.solver, self.seed)


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
    # (cfg) -> None, or its own one-line error for a generic flag it has no use for, said before
    # the flags are read as a latent shape (speech's length comes from the prompt: its --frames 3
    # was refused as a single-frame image checkpoint's, "it makes one frame")
    check_flags: Callable[[Any], None] | None = None


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
    device: str = AUTO_DEVICE  # where the model, the text encoder and the VAE run: auto (cuda when torch sees a GPU, as lumina train; else cpu), cpu, cuda or cuda:N
    # field -> the modality's name for its flag the command line gave it by ({"frames": "--views"}):
    # the checkpoint's sampler refuses another modality's (check_flags)
    given_as: dict[str, str] = field(default_factory=dict, metadata={"internal": True})

    def __post_init__(self) -> None:
        if self.cfg_scale is not None and isinstance(self.cfg, _NoScaleGiven):
            self.cfg = self.cfg_scale
        self.cfg, self.cfg_scale = float(self.cfg), None
        check_device(self.device)
        # --num 0 ended in a reshape traceback; --steps 0 wrote the initial noise as a sample
        for name in ("num", "steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be at least 1; got {getattr(self, name)}")
        if self.weights not in WEIGHTS:
            raise ValueError(f"--weights must be one of {', '.join(WEIGHTS)}; got {self.weights!r}")
        if not self.max_size_factor > 0:
            raise ValueError(f"--max-size-factor must be above 0; got {self.max_size_factor}")
        if self.extrapolation not in EXTRAPOLATION_CHOICES:
            raise ValueError(f"--extrapolation must be one of {', '.join(EXTRAPOLATION_CHOICES)}; got {self.extrapolation!r}")
        check_guidance(self.shift, self.cfg, "--cfg")
        check_sampler(self.solver, self.seed)
