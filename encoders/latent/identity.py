"""The identity mapping: pixels (or any normalised float array, e.g. a log-mel) are the latent."""

from __future__ import annotations

import numpy as np


class IdentityLatentEncoder:
    """x as it is (float16 on disk): C = C_in, no downsampling, deterministic. ``shift`` and ``scale``
    (default 0 and 1) normalise it as the latent contract says, z = (x - shift) * scale: a speech
    dataset's log-mel mean and 1 / std, measured when it is encoded. They are options, so they enter
    the fingerprint and the recorded description, and decoding un-normalises with the stored values."""

    name = "identity"
    downsample, stochastic = 1, False
    thread_safe = True  # encode() may run in several threads at once (encoders/threads.py)

    def __init__(self, channels: int = 3, shift: float = 0.0, scale: float = 1.0):
        self.latent_channels = channels  # declarative: 3 for RGB, 1 (or n_mels) for a spectrogram
        self.shift, self.scale = float(shift), float(scale)
        if not self.scale > 0:
            raise ValueError(f"identity scale must be positive, got {scale}")

    @property
    def fingerprint(self) -> str:
        if (self.shift, self.scale) == (0.0, 1.0):
            return "identity@v1"
        import hashlib
        import json

        return "identity@" + hashlib.sha256(json.dumps([self.shift, self.scale]).encode()).hexdigest()[:16]

    def encode(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, dtype=np.float32) - self.shift) * self.scale).astype(np.float16)

    def decode(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z, dtype=np.float32) / self.scale + self.shift

    def describe(self) -> dict:
        options: dict = {"channels": self.latent_channels}
        if (self.shift, self.scale) != (0.0, 1.0):
            options.update(shift=self.shift, scale=self.scale)
        return {"name": self.name, "path": None, "options": options, "fingerprint": self.fingerprint}


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


def pixels_to_unit(image: np.ndarray) -> np.ndarray:
    """[H, W, 3] or [T, H, W, 3] uint8 -> [3, T, H, W] float32 in [-1, 1]: the input every latent encoder takes."""
    x = np.asarray(image)
    x = x[None] if x.ndim == 3 else x
    return (x.astype(np.float32) / 127.5 - 1.0).transpose(3, 0, 1, 2)


def unit_to_pixels(x: np.ndarray) -> np.ndarray:
    """[3, T, H, W] float in [-1, 1] -> [T, H, W, 3] uint8."""
    y = np.clip((np.asarray(x, dtype=np.float32) + 1.0) * 127.5, 0, 255)
    return y.transpose(1, 2, 3, 0).round().astype(np.uint8)
