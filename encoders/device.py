"""Device choice at load time, on the worker that loads the model (never on the driver that plans)."""

from __future__ import annotations


def resolve_device(device: str | None) -> str:
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
