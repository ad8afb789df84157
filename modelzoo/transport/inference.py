"""``sample``: noise -> data for any modality and resolution, with the paper's inference techniques.

    out = sample(model, noise, cond=dict(cap_feats=f, cap_mask=m), uncond=dict(cap_feats=f0, cap_mask=m0),
                 cfg_scale=4.0, solver="euler", steps=30, shift=4.0)

Techniques (each a keyword of ``sample``):
    classifier-free guidance   v = u + w (c - u) on all channels, one batched forward of 2B
    time shift                 t' = t / (t + s - s t)
    resolution extrapolation   extrapolation=Extrapolation(train_seq_len, rope="ntk" | "interpolation"
                               | "time_aware", proportional_attn=True)  (with shift > 1)
    style-consistent batch     style_consistent=True: items share batch item 0's keys and values
    compositional generation   composition=compose_captions(...): region captions per region
    editing                    init=x, t_start=lambda: x_lambda = lambda x + (1 - lambda) noise, then
                               solve from lambda to 1; normalize_init=True for style edits
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F

from ..rope import Extrapolation
from .flow_matching import interpolate, inverse_time_shift, time_shift
from .samplers import Solver, integrate
from .tree import Batch, batch_size, flatten, tree_map

# The guidance `lumina sample` and `lumina evaluate` start from, so a checkpoint is judged at the
# scale it is sampled at (the paper's image setting; demos may set their own, and say so).
DEFAULT_CFG_SCALE = 4.0


@dataclass
class Composition:
    """Model kwargs for compositional generation (build with ``compose_captions``)."""

    cap_feats: torch.Tensor  # (B, L, cap_dim): all region captions, concatenated
    cap_mask: torch.Tensor  # (B, L)
    cap_regions: torch.Tensor  # (B, L): region id of each caption token, -1 = seen by every patch
    image_regions: Any  # where each region is. Overlapping regions: bool masks (R, H, W) or
    #                     (R, T, H, W) for the whole batch, a list of them, or (B, R, T, H, W).
    #                     One region per pixel: a long id map (H, W) / (T, H, W), a list of them,
    #                     or (B, T, H, W).
    cap_pool: torch.Tensor  # (B, cap_dim): pooled full prompt, for adaLN

    def as_kwargs(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def masked_mean(feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    w = mask.unsqueeze(-1).to(feats.dtype)
    return (feats * w).sum(1) / w.sum(1).clamp(min=1)  # (B, D)


def compose_captions(region_captions: list[tuple[torch.Tensor, torch.Tensor]], image_regions: Any,
                     full_caption: tuple[torch.Tensor, torch.Tensor], global_tokens: bool = False
                     ) -> Composition:
    """Region r's caption (feats (B, L_r, D), mask (B, L_r)) is cross-attended only from the
    patches inside region r (image_regions[r] for bool masks, which may overlap; == r for an id
    map); the pooled (adaLN) vector is the full prompt's.
    global_tokens=True also lets every patch see the full prompt's tokens."""
    feats, masks, ids = [], [], []
    parts = list(region_captions) + ([full_caption] if global_tokens else [])
    for r, (f, m) in enumerate(parts):
        region = -1 if (global_tokens and r == len(region_captions)) else r
        feats.append(f)
        masks.append(m.bool())
        ids.append(torch.full(m.shape, region, dtype=torch.long, device=m.device))
    return Composition(torch.cat(feats, 1), torch.cat(masks, 1), torch.cat(ids, 1), image_regions,
                       masked_mean(*full_caption))


def normalize_per_channel(x: Batch, eps: float = 1e-6) -> Batch:
    """Each sample's channels to zero mean, unit std over (T, H, W): strips global colour/style."""
    def one(v: torch.Tensor) -> torch.Tensor:  # (..., C, T, H, W)
        dims = (-3, -2, -1)
        return (v - v.mean(dims, keepdim=True)) / (v.std(dims, keepdim=True) + eps)
    return tree_map(one, x)


# ------------------------------------------------------------------ batching cond + uncond ----

def _pad_len(x: torch.Tensor, length: int, value: Any = 0) -> torch.Tensor:
    return F.pad(x, (0, 0) * (x.dim() - 2) + (0, length - x.shape[1]), value=value)


def _cat_kwargs(cond: dict[str, Any], uncond: dict[str, Any]) -> dict[str, Any] | None:
    """One kwargs dict for the 2B batch [cond; uncond], or None when they cannot be batched."""
    cond, uncond = dict(cond), dict(uncond)
    if "cap_feats" in cond and "cap_feats" in uncond:
        for side in (cond, uncond):
            if "cap_mask" not in side:
                side["cap_mask"] = torch.ones(side["cap_feats"].shape[:2], dtype=torch.bool,
                                              device=side["cap_feats"].device)
            if "cap_regions" in cond or "cap_regions" in uncond:  # the other side: all tokens global
                side.setdefault("cap_regions", torch.full(side["cap_mask"].shape, -1, dtype=torch.long,
                                                          device=side["cap_mask"].device))
            if "cap_pool" in cond or "cap_pool" in uncond:
                side.setdefault("cap_pool", masked_mean(side["cap_feats"], side["cap_mask"].bool()))
        length = max(cond["cap_feats"].shape[1], uncond["cap_feats"].shape[1])
        for side in (cond, uncond):
            side["cap_feats"] = _pad_len(side["cap_feats"], length)
            side["cap_mask"] = _pad_len(side["cap_mask"].bool(), length, False)
            if "cap_regions" in side:
                side["cap_regions"] = _pad_len(side["cap_regions"], length, -1)
    regions = cond.pop("image_regions", None), uncond.pop("image_regions", None)
    if set(cond) != set(uncond):
        return None
    out: dict[str, Any] = {}
    for key in cond:
        a, b = cond[key], uncond[key]
        if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):  # per-sample (frame_cond)
            out[key] = list(a) + list(b)
            continue
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape[1:] == b.shape[1:]):
            return None
        out[key] = torch.cat([a, b])
    if regions != (None, None):
        reg = regions[0] if regions[0] is not None else regions[1]
        out["image_regions"] = reg  # uncond tokens are region -1: its map is never consulted
        if _per_sample_regions(reg):
            out["image_regions"] = list(reg) * 2
    return out


def _per_sample_regions(reg: Any) -> bool:
    """A list, a long (B, T, H, W) id map or bool (B, R, T, H, W) masks: one entry per sample."""
    if isinstance(reg, list):
        return True
    return isinstance(reg, torch.Tensor) and reg.dim() == (5 if reg.dtype == torch.bool else 4)


def guided_velocity(model: Callable[..., Batch], cond: dict[str, Any] | None, uncond: dict[str, Any] | None,
                    cfg_scale: float, **forward_kwargs) -> Callable[[Batch, torch.Tensor], Batch]:
    """v(x, t) = u + w (c - u) on every channel; one forward of 2B when the kwargs can be batched.
    uncond=None or w = 1: the conditional prediction alone, one forward of B. A ``style_ref=True`` forward
    kwarg becomes each half's reference index (item 0 of that half)."""
    cond = cond or {}
    if cfg_scale == 1:  # u + 1 (c - u) is c: the unconditional half of each forward was computed for nothing
        uncond = None
    style = forward_kwargs.pop("style_ref", None)
    both = _cat_kwargs(cond, uncond) if uncond is not None else None  # once, not per step

    def call(x: Batch, t: torch.Tensor, kwargs: dict[str, Any], refs: list[int] | None) -> Batch:
        extra = dict(forward_kwargs)
        if refs is not None:
            extra["style_ref"] = torch.tensor(refs, dtype=torch.long)
        return model(x, t, **kwargs, **extra)

    def velocity(x: Batch, t: torch.Tensor) -> Batch:
        B = batch_size(x)
        tb = t.reshape(1).expand(B)
        if uncond is None:
            return call(x, tb, cond, [0] * B if style else None)
        if both is not None:
            x2 = torch.cat([x, x]) if isinstance(x, torch.Tensor) else list(x) + list(x)
            out = call(x2, t.reshape(1).expand(2 * B), both, [0] * B + [B] * B if style else None)
            c, u = out[:B], out[B:]
        else:
            c = call(x, tb, cond, [0] * B if style else None)
            u = call(x, tb, uncond, [0] * B if style else None)
        return tree_map(lambda ci, ui: ui + cfg_scale * (ci - ui), c, u)

    return velocity


@torch.no_grad()
def sample(model: Callable[..., Batch], noise: Batch, cond: dict[str, Any] | None = None,
           uncond: dict[str, Any] | None = None, cfg_scale: float = 1.0, solver: str | Solver = "euler",
           steps: int = 30, shift: float = 1.0, *, atol: float = 1e-6, rtol: float = 1e-3,
           extrapolation: Extrapolation | dict[str, Any] | None = None, style_consistent: bool = False,
           composition: Composition | None = None, init: Batch | None = None, t_start: float | None = None,
           normalize_init: bool = False, on_model_eval: Callable[[], None] | None = None) -> Batch:
    """Solve dx/dt = v(x, t) from noise (t = 0) to data (t = 1).

    model: a FlagDiT (or any callable model(x, t, **cond) -> velocity in x's structure).
    noise: [B, C, T, H, W] or a list of B [C, T, H, W] (any modality, any resolution, mixed sizes).
    cond / uncond: model kwargs (cap_feats=, cap_mask= or y=); uncond=None disables guidance.
    cfg_scale: w in u + w (c - u), applied to all channels.
    solver: "euler" | "midpoint" | "rk4" (steps steps on the shifted grid) | "dopri5" (adaptive,
        atol/rtol). Model evaluations per step: 1 / 2 / 4.
    shift: s of t' = t / (t + s - s t); s > 1 puts more steps near the noise end (use ~4 at high
        resolution).
    extrapolation: RoPE scaling + proportional attention for sizes beyond training, e.g.
        Extrapolation(train_seq_len=model.seq_len((1, 32, 32)), rope="time_aware", proportional_attn=True).
    style_consistent: batch item 0 is the style reference; every item also attends to its keys
        and values (shared before RoPE, so each item keeps its own positions).
    composition: regional captions from ``compose_captions``; merged into cond.
    init, t_start (lambda): editing. x_lambda = lambda init + (1 - lambda) noise, solved from lambda
        to 1 (lower lambda: more freedom for the new prompt). normalize_init: per-channel
        normalisation of init first (style edits).
    on_model_eval: called after each (guided) model evaluation, e.g. to advance a progress bar
        (steps x MODEL_EVALS_PER_STEP[solver] calls for the fixed-step solvers).
    Returns the sample in noise's structure.
    """
    solver = Solver(solver)
    cond = dict(cond or {})
    if composition is not None:
        cond.update(composition.as_kwargs())
    forward_kwargs: dict[str, Any] = {}
    if extrapolation is not None:
        if isinstance(extrapolation, dict):
            extrapolation = Extrapolation(**extrapolation)
        forward_kwargs["extrapolation"] = extrapolation
    if style_consistent:
        forward_kwargs["style_ref"] = True
    velocity = guided_velocity(model, cond, uncond, cfg_scale, **forward_kwargs)

    x = tree_map(lambda n: n.float(), noise)
    t0 = 0.0
    if init is not None:
        if t_start is None:
            raise ValueError("editing needs t_start (lambda in [0, 1))")
        source = normalize_per_channel(init) if normalize_init else init
        t0 = float(t_start)
        x = interpolate(x, tree_map(lambda v: v.float(), source), torch.full((batch_size(x),), t0))
    u0 = float(inverse_time_shift(torch.tensor(t0, dtype=torch.float64), shift))
    times = time_shift(torch.linspace(u0, 1.0, steps + 1, dtype=torch.float64), shift).float()

    flat, unflatten = flatten(x)

    def flat_velocity(state: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        v = velocity(unflatten(state), t)
        if on_model_eval is not None:
            on_model_eval()
        return flatten(tree_map(lambda a: a.float(), v))[0]

    return unflatten(integrate(flat_velocity, flat, times, solver, atol=atol, rtol=rtol))
