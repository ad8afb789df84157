"""The identity mapping: pixels (or any normalised float array, e.g. a log-mel) are the latent."""

from __future__ import annotations

import numpy as np


class IdentityImageEncoder:
    """Pixels in [-1, 1] as the latent: C = 3, T = 1 (the uint8-image API the demo pipeline uses)."""

    name = "identity-pixels"
    version = "1"
    scale = 1.0
    channels = 3

    @property
    def fingerprint(self) -> str:
        return f"{self.name}@v{self.version}"

    def encode(self, image: np.ndarray) -> np.ndarray:
        """image: [H, W, 3] uint8 -> [3, 1, H, W] float16."""
        x = image.astype(np.float32) / 127.5 - 1.0
        return x.transpose(2, 0, 1)[:, None].astype(np.float16)

    def decode(self, latent: np.ndarray) -> np.ndarray:
        """[3, T, H, W] float -> [T, H, W, 3] uint8."""
        x = np.clip((np.asarray(latent, dtype=np.float32) + 1.0) * 127.5, 0, 255)
        return x.transpose(1, 2, 3, 0).round().astype(np.uint8)
