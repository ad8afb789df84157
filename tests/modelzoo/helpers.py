"""Shared helpers: tiny models with every weight random (zero-init layers would hide bugs)."""

from __future__ import annotations

import torch

from modelzoo import FlagDiT, get_config


def randomize_(model: torch.nn.Module, std: float = 0.2, gates: bool = True, seed: int = 0) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("attention.gate") and not gates:
                p.zero_()
                continue
            p.copy_(torch.randn(p.shape, generator=g) * std + (1.0 if name.endswith("norm.weight") else 0.0))
    return model


def tiny(randomize: bool = True, gates: bool = True, **overrides) -> FlagDiT:
    torch.manual_seed(0)
    model = FlagDiT(get_config("flag-dit-tiny", **overrides)).eval()
    return randomize_(model, gates=gates) if randomize else model


def caption(B: int, L: int = 6, dim: int = 16, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(B, L, dim, generator=g)
    mask = torch.ones(B, L, dtype=torch.bool)
    mask[1::2, L // 2 :] = False  # every other caption is shorter
    return feats, mask
