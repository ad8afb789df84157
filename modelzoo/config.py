"""Flag-DiT configuration: one dataclass and the size registry.

Every size the project uses is in ``CONFIGS`` at the bottom (DiT's ``DiT_models`` dict);
``get_config(name, **overrides)`` is the only way code should build one, so a typo in an
override fails loudly instead of being silently ignored.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any


class QKNorm(str, enum.Enum):
    LAYERNORM = "layernorm"  # reference: one LayerNorm across all heads, before the head split
    RMSNORM = "rmsnorm"  # per-head RMSNorm (normalises each head_dim slice)
    NONE = "none"


class RopeKind(str, enum.Enum):
    FLAT = "1d"  # the paper's Flag-DiT: 1-D RoPE over the flattened sequence (needs [nextline])
    AXIAL = "axial"  # Next-DiT style: head_dim split into (t, h, w) parts


class PatchOrder(str, enum.Enum):
    """Column order of a flattened input patch, the x_embedder's input features."""

    HWC = "hwc"  # (ph, pw, C): this project's checkpoints
    CHW = "chw"  # (C, ph, pw): the public Lumina-T2X code


# Fields added after format_version 1: a config.json without them predates them, and gets the
# value that reproduces what that checkpoint was trained with (not today's default).
LEGACY_DEFAULTS: dict[str, Any] = {"time_scale": 1000.0, "patch_order": "hwc", "axial_frames": True}
FORMAT_VERSION = 2


@dataclass
class FlagDiTConfig:
    in_channels: int = 4
    patch_size: int | tuple[int, int] = 2  # p, or (ph, pw): e.g. (1, 4) for a [80, 1, 1, W] spectrogram
    dim: int = 1536
    n_layers: int = 16
    n_heads: int = 32
    n_kv_heads: int | None = None  # < n_heads: grouped-query attention
    multiple_of: int = 256  # SwiGLU hidden = int(2 * 4 * dim / 3) rounded up to this
    ffn_dim_multiplier: float | None = None
    norm_eps: float = 1e-5
    qk_norm: QKNorm = QKNorm.LAYERNORM
    cap_dim: int = 0  # width of caption token features; 0 = no text conditioning
    num_classes: int = 0  # > 0: class-conditional, with one extra "null" class for CFG
    class_dropout_prob: float = 0.1  # labels replaced by the null class in train mode
    rope: RopeKind = RopeKind.FLAT
    rope_theta: float = 10000.0
    axial_dims: tuple[int, int, int] | None = None  # (t, h, w) split of head_dim; None: auto
    sep_tokens: bool = True  # learnable [nextline] / [nextframe] tokens
    freq_embed_size: int = 256  # sinusoidal width of the timestep embedding
    grad_checkpointing: bool = False  # recompute each block in backward (train mode only)
    train_seq_len: int | None = None  # tokens per sample at training resolution (extrapolation)
    time_scale: float = 1000.0  # the timestep embedding sees time_scale * t; the public code: 1.0
    patch_order: PatchOrder = PatchOrder.HWC  # x_embedder column order; the public code: "chw"
    axial_frames: bool = False  # axial RoPE: give the frame axis a share of each head (video, views)
    frame_cond_dim: int = 0  # > 0: forward takes frame_cond [B, T, frame_cond_dim] (e.g. cameras)

    def __post_init__(self) -> None:
        # sizes first: n_heads 0 divided by zero below, and n_layers 0 built a model without blocks
        for name in ("in_channels", "dim", "n_layers", "n_heads", "multiple_of", "freq_embed_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive whole number, got {value!r}")
        if self.n_kv_heads is not None and (not isinstance(self.n_kv_heads, numbers.Integral) or self.n_kv_heads < 1):
            raise ValueError(f"n_kv_heads must be a positive whole number (or null: n_heads), got {self.n_kv_heads!r}")
        for name in ("cap_dim", "num_classes", "frame_cond_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{name} must be a whole number, at least 0, got {value!r}")
        self._check_real_numbers()
        # strings arrive from config.json and command lines: parse them here, once
        self.qk_norm = QKNorm(self.qk_norm)
        self.rope = RopeKind(self.rope)
        self.patch_order = PatchOrder(self.patch_order)
        if not isinstance(self.patch_size, int):  # a pair, from code or a JSON list
            ph, pw = (int(v) for v in self.patch_size)
            self.patch_size = (ph, pw)
        if min(self.patch_hw) < 1:
            raise ValueError(f"patch_size must be positive, got {self.patch_size}")
        if self.axial_dims is not None:
            self.axial_dims = tuple(int(d) for d in self.axial_dims)
        if self.dim % self.n_heads:
            raise ValueError(f"dim {self.dim} is not divisible by n_heads {self.n_heads}")
        if self.n_heads % self.kv_heads:
            raise ValueError(f"n_heads {self.n_heads} is not divisible by n_kv_heads {self.kv_heads}")
        if self.head_dim % 2:
            raise ValueError("RoPE needs an even head_dim")
        if self.rope is RopeKind.AXIAL and (sum(self.rope_axial_dims) != self.head_dim
                                            or any(d % 2 for d in self.rope_axial_dims)):
            raise ValueError(f"axial_dims {self.rope_axial_dims} must be even and sum to {self.head_dim}")
        if self.patch_dim > self.dim:
            ph, pw = self.patch_hw
            warnings.warn(f"patch_dim {self.patch_dim} ({ph} x {pw} patch x {self.in_channels} channels) is larger "
                          f"than dim {self.dim}: the final layer predicts each patch's velocity from fewer features "
                          "than it has values (rank at most dim), so samples stay noisy; use a smaller patch_size "
                          "or a larger dim (for speech, the demo's: lumina train --model-overrides "
                          "'{\"dim\": 128, \"n_layers\": 4, \"n_heads\": 4, \"patch_size\": [1, 1], \"multiple_of\": 64}')",
                          UserWarning)

    def _check_real_numbers(self) -> None:
        """Values no model can train with, refused naming the field: rope_theta <= 0 and norm_eps < 0 made
        every loss NaN (each step skipped, the samples blamed), ffn_dim_multiplier <= 0 a RuntimeError
        traceback building the FFN, time_scale 0 a model blind to the timestep (trained without a word)."""
        rules = (("rope_theta", "positive", lambda v: 0 < v < math.inf),
                 ("time_scale", "positive", lambda v: 0 < v < math.inf),
                 ("norm_eps", "at least 0", lambda v: 0 <= v < math.inf),
                 ("ffn_dim_multiplier", "positive (or null: 1)", lambda v: 0 < v < math.inf),
                 ("class_dropout_prob", "between 0 and 1", lambda v: 0 <= v <= 1))
        for name, rule, ok in rules:
            value = getattr(self, name)
            if value is None and name == "ffn_dim_multiplier":
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not ok(value):
                raise ValueError(f"{name} must be {rule} and finite, got {value!r}")
        if self.train_seq_len is not None and (isinstance(self.train_seq_len, bool)
                                               or not isinstance(self.train_seq_len, numbers.Integral) or self.train_seq_len < 1):
            raise ValueError(f"train_seq_len must be a positive whole number (or null), got {self.train_seq_len!r}")

    @property
    def patch_hw(self) -> tuple[int, int]:
        """(ph, pw) whether patch_size is an int or a pair."""
        p = self.patch_size
        return (p, p) if isinstance(p, int) else p

    @property
    def patch_dim(self) -> int:
        """Features of one flattened patch: ph * pw * C."""
        ph, pw = self.patch_hw
        return ph * pw * self.in_channels

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    @property
    def kv_heads(self) -> int:
        return self.n_heads if self.n_kv_heads is None else self.n_kv_heads

    @property
    def adaln_dim(self) -> int:
        return min(self.dim, 1024)  # the reference caps the conditioning width at 1024

    @property
    def ffn_hidden(self) -> int:
        hidden = int(2 * 4 * self.dim / 3)
        if self.ffn_dim_multiplier is not None:
            hidden = int(self.ffn_dim_multiplier * hidden)
        return self.multiple_of * -(-hidden // self.multiple_of)

    @property
    def rope_axial_dims(self) -> tuple[int, int, int]:
        if self.axial_dims is not None:
            return self.axial_dims
        if not self.axial_frames:  # images (and T = 1 spectrograms): rows and columns share the head
            d_hw = 2 * (self.head_dim // 4)
            return (self.head_dim - 2 * d_hw, d_hw, d_hw)  # frame part 0 (or 2 when d = 2 mod 4)
        d_hw = 2 * (self.head_dim // 6)  # even, about a third each; frames get the rest
        return (self.head_dim - 2 * d_hw, d_hw, d_hw)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["qk_norm"] = self.qk_norm.value
        d["rope"] = self.rope.value
        d["patch_order"] = self.patch_order.value
        d["patch_size"] = self.patch_size if isinstance(self.patch_size, int) else list(self.patch_size)
        d["axial_dims"] = list(self.axial_dims) if self.axial_dims is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FlagDiTConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names - {"model_type", "format_version"}
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        fields = {k: v for k, v in d.items() if k in names}
        if int(d.get("format_version", FORMAT_VERSION)) < 2:  # written before these fields existed
            fields = {**LEGACY_DEFAULTS, **fields}
        return cls(**fields)


# Sizes. Parameter counts (built on the meta device, checked in tests/modelzoo/test_params.py):
#   flag-dit-600m, num_classes=1000: 0.610B  (reference DiT_Llama_600M_patch2)
#   flag-dit-5b,   cap_dim=4096:     5.047B  (reference Lumina-T2I 5B with LLaMA-7B features)
#   flag-dit-7b,   num_classes=1000: 7.294B  (reference DiT_Llama_7B_patch2)
# The reference's "3B" (dim 3072, 32 layers) is really 4.2B class-conditional: it is our 5b.
CONFIGS: dict[str, FlagDiTConfig] = {
    "flag-dit-tiny": FlagDiTConfig(dim=64, n_layers=2, n_heads=4, multiple_of=32),
    "flag-dit-s": FlagDiTConfig(dim=384, n_layers=12, n_heads=6),
    "flag-dit-b": FlagDiTConfig(dim=768, n_layers=12, n_heads=12),
    "flag-dit-600m": FlagDiTConfig(dim=1536, n_layers=16, n_heads=32),
    "flag-dit-2b": FlagDiTConfig(dim=2304, n_layers=24, n_heads=32),
    "flag-dit-5b": FlagDiTConfig(dim=3072, n_layers=32, n_heads=32),
    "flag-dit-7b": FlagDiTConfig(dim=4096, n_layers=32, n_heads=32),
    # The paper's video and multi-view models: the 2B shape with LLaMA-7B-width caption features.
    # Multi-view passes cameras through frame_cond (set frame_cond_dim to the camera vector's width).
    "flag-dit-t2v-2b": FlagDiTConfig(dim=2304, n_layers=24, n_heads=32, cap_dim=4096, axial_frames=True),
    "flag-dit-t2mv-2b": FlagDiTConfig(dim=2304, n_layers=24, n_heads=32, cap_dim=4096, axial_frames=True),
    # Speech: the paper gives no size for T2Speech; this is the reference's smallest (600M) shape on
    # a log-mel spectrogram with the 80 mel bins as channels, [80, 1, 1, W], patches of 4 frames.
    "flag-dit-t2speech": FlagDiTConfig(dim=1536, n_layers=16, n_heads=32, in_channels=80, patch_size=(1, 4)),
}


class UnknownConfig(KeyError, ValueError):
    """A size not in CONFIGS. A KeyError as it always was, whose text is the message itself (a
    KeyError's is its repr: the command lines printed it in quotes)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownField(TypeError, ValueError):
    """An override that is no FlagDiTConfig field: a TypeError as it always was (an unknown keyword),
    and a ValueError, which the command lines print as one line."""


def _closest(name: str, choices) -> str:
    import difflib

    match = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def check_name(name: str) -> None:
    """Raise UnknownConfig for a size not in CONFIGS, with the closest one and every choice."""
    if name not in CONFIGS:
        raise UnknownConfig(f"unknown model {name!r}{_closest(name, CONFIGS)}; choose from {', '.join(CONFIGS)}")


def check_overrides(overrides: dict[str, Any]) -> None:
    """Raise UnknownField for keys that are no FlagDiTConfig field, naming the closest field and all."""
    names = [f.name for f in dataclasses.fields(FlagDiTConfig)]
    unknown = [k for k in overrides if k not in names]
    if unknown:
        said = ", ".join(f"{k!r}{_closest(k, names)}" for k in unknown)
        raise UnknownField(f"unknown FlagDiTConfig field{'s' if len(unknown) > 1 else ''} {said}; the fields: {', '.join(names)}")


def get_config(name: str, **overrides: Any) -> FlagDiTConfig:
    """A fresh copy of a registered config, with keyword overrides (unknown keys raise)."""
    check_name(name)
    check_overrides(overrides)
    return dataclasses.replace(CONFIGS[name], **overrides)
