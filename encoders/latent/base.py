"""The latent-encoder contract, and training's read path from stored latents."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch


class LatentEncoder(Protocol):
    name: str
    fingerprint: str  # f"{name}@{hash of config + weights + options}"; identity: "identity@v1"
    scale: float  # from the VAE config (0.18215 SD1.5, 0.13025 SDXL); 1.0 for identity
    shift: float  # 0.0 unless the VAE config has a shift factor
    latent_channels: int
    downsample: int  # 8 for SD VAEs, 1 for identity
    stochastic: bool  # True: encode returns moments [2C, T, h, w] = concat(mean, logvar) on dim 0

    def encode(self, x: np.ndarray) -> np.ndarray:
        """[C_in, T, H, W] float32 (pixels in [-1, 1]) -> float16 moments or latent."""

    def decode(self, z: np.ndarray) -> np.ndarray:
        """model-space latent [C, T, h, w] (= (sample - shift) * scale) -> [C_in, T, H, W] float32."""

    def describe(self) -> dict:
        """{"name", "path", "options", "fingerprint", ...}: enough to reload it with load_latent_encoder."""


def encoder_info(enc: LatentEncoder) -> dict:
    """What a reader of stored latents needs (draw_latent, the model's channels, the decoder)."""
    return {**enc.describe(), "scale": enc.scale, "shift": enc.shift, "stochastic": enc.stochastic,
            "latent_channels": enc.latent_channels, "downsample": enc.downsample}


def draw_latent(stored: np.ndarray, encoder_info: dict, generator: torch.Generator | None = None) -> torch.Tensor:
    """Training's read path: moments -> a fresh draw (mean + std * eps - shift) * scale; else as stored.

    A new eps per call is why moments are stored: each epoch sees a different VAE sample.
    """
    x = torch.as_tensor(np.asarray(stored), dtype=torch.float32)
    if not encoder_info.get("stochastic", False):
        return x
    mean, logvar = x.chunk(2, dim=0)
    eps = torch.randn(mean.shape, generator=generator, dtype=torch.float32)
    sample = mean + torch.exp(0.5 * logvar) * eps
    return (sample - float(encoder_info.get("shift") or 0.0)) * float(encoder_info["scale"])
