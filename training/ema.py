"""Exponential moving average of the weights: what the checkpoint publishes."""

from __future__ import annotations

import copy

import torch


def ema_decay_at(step: int, decay: float, warmup: bool = True) -> float:
    """Warm-up (1 + step) / (10 + step), capped at `decay`: a fixed 0.999 would keep about half of
    the step-50 weights after 800 steps."""
    return min(decay, (1 + step) / (10 + step)) if warmup else decay


class ModelEMA:
    def __init__(self, model: torch.nn.Module, decay: float, warmup: bool = True):
        self.module = copy.deepcopy(model).requires_grad_(False)
        self.decay, self.warmup = decay, warmup

    def update(self, model: torch.nn.Module, step: int) -> None:
        """After optimizer step `step` (0-based): ema = d * ema + (1 - d) * weights."""
        _ema_update(self.module, model, ema_decay_at(step, self.decay, self.warmup))


@torch.no_grad()
def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters()):
        _local(e).lerp_(_local(p.detach()), 1.0 - decay)


def _local(t: torch.Tensor) -> torch.Tensor:
    """Under FSDP2 the EMA is sharded like the model (training.distributed.wrap_model), so each rank
    averages its own shard: no communication."""
    return t.to_local() if hasattr(t, "to_local") else t
