"""Flow matching with the linear interpolant (rectified flow), t = 0 noise, t = 1 data.

    x_t = t * x1 + (1 - t) * x0,   x0 ~ N(0, I),   target velocity u = x1 - x0
    loss = mean over samples of mean((v_theta(x_t, t) - u)^2)   (samples may differ in size)

The model knows nothing of this schedule; this file knows nothing of the model.
"""

from __future__ import annotations

import enum
from typing import Callable

import torch

from .tree import Batch, tree_map


class TimestepSampling(str, enum.Enum):
    UNIFORM = "uniform"  # t ~ U(0, 1)
    LOGIT_NORMAL = "logit_normal"  # t = sigmoid(n), n ~ N(loc, scale); the paper uses (0, 1)


def time_shift(t: torch.Tensor, shift: float) -> torch.Tensor:
    """t' = t / (t + s - s t): s > 1 spends more of [0, 1] near the noise end; 0 and 1 stay put."""
    if shift == 1.0:
        return t
    return t / (t + shift - shift * t)


def inverse_time_shift(t: torch.Tensor, shift: float) -> torch.Tensor:
    """The u with time_shift(u, s) = t: u = s t / (1 - t + s t)."""
    if shift == 1.0:
        return t
    return shift * t / (1 - t + shift * t)


def interpolate(x0: Batch, x1: Batch, t: torch.Tensor) -> Batch:
    """x_t = t x1 + (1 - t) x0 for a [B, ...] tensor or a list of B tensors; t is (B,)."""
    if isinstance(x1, torch.Tensor):
        tb = t.view(-1, *([1] * (x1.dim() - 1))).to(x1.dtype)
        return torch.lerp(x0, x1, tb)
    return [torch.lerp(a, b, ti.to(b.dtype)) for a, b, ti in zip(x0, x1, t)]


class FlowMatching:
    """Training side of the transport: timestep sampling and the velocity loss.

    fm = FlowMatching(timesteps="logit_normal")
    loss = fm.training_loss(model, x1, cap_feats=..., cap_mask=...)
    """

    def __init__(self, timesteps: str | TimestepSampling = TimestepSampling.UNIFORM,
                 loc: float = 0.0, scale: float = 1.0, shift: float = 1.0):
        self.timesteps = TimestepSampling(timesteps)  # strings are parsed here, once
        self.loc, self.scale = loc, scale
        self.shift = shift  # optional training-time shift, same direction as at sampling

    def sample_t(self, n: int, device: torch.device | str = "cpu",
                 generator: torch.Generator | None = None) -> torch.Tensor:
        if self.timesteps is TimestepSampling.UNIFORM:
            t = torch.rand(n, device=device, generator=generator)
        else:
            t = torch.sigmoid(self.loc + self.scale * torch.randn(n, device=device, generator=generator))
        return time_shift(t, self.shift)

    def training_loss(self, model: Callable[..., Batch], x1: Batch, *, t: torch.Tensor | None = None,
                      x0: Batch | None = None, reduce: bool = True, **model_kwargs) -> torch.Tensor:
        """Mean over samples of each sample's MSE between v_theta(x_t, t) and x1 - x0.

        x1: [B, C, T, H, W] or a list of B [C, T, H, W]; t, x0 default to fresh draws.
        reduce=False returns the (B,) per-sample losses.
        """
        first = x1 if isinstance(x1, torch.Tensor) else x1[0]
        B = x1.shape[0] if isinstance(x1, torch.Tensor) else len(x1)
        if t is None:
            t = self.sample_t(B, device=first.device)
        if x0 is None:
            x0 = tree_map(torch.randn_like, x1)
        xt = interpolate(x0, x1, t)
        v = model(xt, t, **model_kwargs)
        if isinstance(x1, torch.Tensor):
            per_sample = (v.float() - (x1 - x0).float()).square().flatten(1).mean(1)  # (B,)
        else:
            per_sample = torch.stack([(vi.float() - (a - b).float()).square().mean()
                                      for vi, a, b in zip(v, x1, x0)])
        return per_sample.mean() if reduce else per_sample
