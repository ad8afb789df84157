"""Rotary position embeddings and the paper's resolution-extrapolation knobs.

Frequencies for a rotary part of width d (theta = 10000, k = 0, 2, ..., d - 2):

    base         w_k = theta ** (-k / d)
    interpolation  w_k / s                                    (positions squeezed by s)
    NTK, standard  (theta * s ** (d / (d - 2))) ** (-k / d)  (high frequencies kept, lowest one / s)
    NTK, token ratio (reference code)  (theta * N / N_train) ** (-k / d)
    time-aware, watershed w (Lumina-Next's public code, w = 0.3 there and here):
                   interpolation while t < w (near noise), NTK from t >= w on (near data)
    time-aware, watershed None (the paper's smooth form):
                   max(w_k / s, (theta * s ** (d / d_t)) ** (-k / d)),  d_t = 1 + (d - 3) t
                   t = 0 (noise): interpolation for every k > 0; t = 1 (data): exactly standard NTK

s is the length scale of the extrapolation: N / N_train for the 1-D RoPE over the flattened
sequence; for the axial RoPE each spatial axis has its own, h / h_train and w / w_train (from
``train_size``; without it sqrt of the per-frame token ratio), and frames are never rescaled, so
a clip of several frames at the training size is not squeezed.
Proportional attention uses the softmax scale sqrt(log(N) / log(N_train) / d_head).

The rotation pairs neighbouring channels (x[2i], x[2i+1]) of a head, as in the reference code,
and is one complex multiplication.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import torch


class RopeScaling(str, enum.Enum):
    NONE = "none"
    INTERPOLATION = "interpolation"
    NTK = "ntk"
    TIME_AWARE = "time_aware"


class NTKFormula(str, enum.Enum):
    STANDARD = "standard"  # base' = base * s ** (d / (d - 2))
    TOKEN_RATIO = "token_ratio"  # base' = base * N / N_train, as in the reference code


@dataclass(frozen=True)
class Extrapolation:
    """Inference-time knobs for sampling beyond the training resolution.

    train_seq_len: tokens per sample at the training resolution (``FlagDiT.seq_len(shape)``);
        None falls back to ``config.train_seq_len``. With the axial RoPE and no train_size it is
        read as the tokens of one training frame, ``FlagDiT.seq_len((1, H, W))``.
    train_size: (H, W) latent size of one training frame: per-axis scales for the axial RoPE.
    rope: which RoPE scaling to apply when the sequence is longer than ``train_seq_len``.
    factor: the length scale s; None derives it from N / train_seq_len (never below 1).
    proportional_attn: softmax scale sqrt(log(N) / log(N_train) / d_head) in self-attention.
    watershed: time-aware switch time (interpolation for t < watershed, NTK after), as in
        Lumina-Next's public code (0.3); None: the paper's smooth frequency- and time-aware blend.
    """

    train_seq_len: int | None = None
    rope: RopeScaling = RopeScaling.NONE
    factor: float | None = None
    ntk_formula: NTKFormula = NTKFormula.STANDARD
    proportional_attn: bool = False
    train_size: tuple[int, int] | None = None
    watershed: float | None = 0.3

    def __post_init__(self) -> None:
        object.__setattr__(self, "rope", RopeScaling(self.rope))
        object.__setattr__(self, "ntk_formula", NTKFormula(self.ntk_formula))
        if self.train_size is not None:
            object.__setattr__(self, "train_size", tuple(int(v) for v in self.train_size))


def inv_freq(d: int, theta: float, scaling: RopeScaling = RopeScaling.NONE,
             s: torch.Tensor | float = 1.0, token_ratio: torch.Tensor | float = 1.0,
             t: torch.Tensor | float = 1.0, ntk_formula: NTKFormula = NTKFormula.STANDARD,
             device: torch.device | None = None, watershed: float | None = 0.3) -> torch.Tensor:
    """Rotary frequencies of a part of width d: (d/2,) unscaled, (B, d/2) with per-sample s, t."""
    k = torch.arange(0, d, 2, device=device, dtype=torch.float64) / d  # (d/2,)
    base = theta ** -k
    if scaling is RopeScaling.NONE:
        return base.float()
    s = torch.as_tensor(s, dtype=torch.float64, device=device).reshape(-1, 1)  # (B, 1)
    t = torch.as_tensor(t, dtype=torch.float64, device=device).reshape(-1, 1)
    ratio = torch.as_tensor(token_ratio, dtype=torch.float64, device=device).reshape(-1, 1)
    d_ntk = max(d - 2, 1)  # exponent d/(d-2); a part of width 2 only has k = 0, where it is moot
    if scaling is RopeScaling.INTERPOLATION:
        freq = base / s
    elif scaling is RopeScaling.NTK and ntk_formula is NTKFormula.TOKEN_RATIO:
        freq = (theta * ratio) ** -k
    elif scaling is RopeScaling.NTK:
        freq = (theta * s ** (d / d_ntk)) ** -k
    elif scaling is RopeScaling.TIME_AWARE and watershed is not None:
        ntk = inv_freq(d, theta, RopeScaling.NTK, s, ratio, t, ntk_formula, device).double()
        freq = torch.where(t < watershed, base / s, ntk)
    elif scaling is RopeScaling.TIME_AWARE:
        d_t = 1 + (d_ntk - 1) * t.clamp(0, 1)
        freq = torch.maximum(base / s, (theta * s ** (d / d_t)) ** -k)
    else:
        raise ValueError(scaling)
    return freq.float()


def rope_tables(positions: torch.Tensor, dims: tuple[int, ...], theta: float,
                extrapolation: Extrapolation | None = None, seq_lens: torch.Tensor | None = None,
                t: torch.Tensor | None = None, axis_scales: torch.Tensor | None = None) -> torch.Tensor:
    """Rotations exp(i * position * freq) of shape (P, N, 1, head_dim/2), complex64, for positions
    (P, N, A): one rotary part per axis (A = len(dims); a part may have width 0).

    seq_lens (B,) and t (B,) are only used by the scaled modes; with them P becomes B.
    seq_lens are the token counts behind the ratio N / N_train (per frame for the axial RoPE);
    axis_scales (B, A), if given, is each axis's length scale s (``factor`` still overrides it).
    """
    axial = len(dims) > 1
    scaling = extrapolation.rope if extrapolation is not None else RopeScaling.NONE
    ratio = torch.ones(1)
    scales = [torch.ones(1)] * len(dims)
    if scaling is not RopeScaling.NONE:
        if extrapolation.train_seq_len is None and axis_scales is not None:
            ratio = axis_scales[:, 1:].double().prod(-1)  # spatial area ratio
        else:
            ratio = seq_lens.double() / _train_len(extrapolation)  # token-count ratio N / N_train
        if extrapolation.factor is not None:
            scales = [torch.full_like(ratio, extrapolation.factor)] * len(dims)
        elif axis_scales is not None:
            scales = list(axis_scales.double().clamp(min=1.0).unbind(-1))
        else:
            scales = [(ratio.sqrt() if axial else ratio).clamp(min=1.0)] * len(dims)
    angles = []
    for a, d in enumerate(dims):
        frame_axis = axial and a == 0  # never rescale frames: their count does not extrapolate
        mode = RopeScaling.NONE if frame_axis else scaling
        freq = inv_freq(d, theta, mode, scales[a], ratio, t if t is not None else 1.0,
                        extrapolation.ntk_formula if extrapolation else NTKFormula.STANDARD,
                        device=positions.device,
                        watershed=extrapolation.watershed if extrapolation else None)
        freq = (freq if freq.dim() == 2 else freq[None]).unsqueeze(1)  # (1 or B, 1, d/2)
        angles.append(positions[..., a : a + 1].float() * freq)  # (P, N, d/2)
    P = max(a.shape[0] for a in angles)  # per-sample scaling turns a shared table into B tables
    angles = torch.cat([a.expand(P, -1, -1) for a in angles], dim=-1).unsqueeze(2)  # (P, N, 1, head_dim/2)
    return torch.polar(torch.ones_like(angles), angles)


def _train_len(extrapolation: Extrapolation) -> float:
    if extrapolation.train_seq_len is None:
        raise ValueError("Extrapolation needs train_seq_len (or config.train_seq_len)")
    return float(extrapolation.train_seq_len)


def apply_rope(x: torch.Tensor, freqs_cis: torch.Tensor) -> torch.Tensor:
    """Rotate x (B, N, H, d) by freqs_cis (P, N, 1, d/2), P in {1, B}: pairs (x[2i], x[2i+1])
    as complex numbers times exp(i angle). One complex multiply: on CPU about twice as fast as
    the rotate-half formulation, and it runs in fp32 whatever x's dtype."""
    xc = torch.view_as_complex(x.float().unflatten(-1, (-1, 2)))  # (B, N, H, d/2)
    return torch.view_as_real(xc * freqs_cis).flatten(-2).type_as(x)


def attention_scale(seq_len: int, train_seq_len: int, head_dim: int) -> float:
    """Proportional attention: sqrt(log(N) / log(N_train) / d_head); 1/sqrt(d_head) at N_train."""
    return math.sqrt(math.log(seq_len) / math.log(train_seq_len) / head_dim)
