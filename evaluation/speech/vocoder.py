"""Log-mel -> audio. Griffin-Lim (librosa) by default; a HiFi-GAN or Vocos generator (mel [1, 80, W]
-> audio [1, 1, N] or [1, N]) exported with torch.export (``.pt2``) or as TorchScript (other
suffixes) from a local path when given, either as the argument or in LUMINA_SPEECH_VOCODER
(nothing is downloaded)."""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from encoders.audio.mel import MEL, griffin_lim


@lru_cache(maxsize=2)
def _generator(path: str):
    import torch

    if path.endswith(".pt2"):
        return torch.export.load(path).module()
    return torch.jit.load(path, map_location="cpu").eval()


def vocode(logmel: np.ndarray, path: str | None = None, n_iter: int = 64) -> np.ndarray:
    """[80, W] log-mel (natural log, HiFi-GAN settings) -> float32 audio at 22,050 Hz."""
    path = path or os.environ.get("LUMINA_SPEECH_VOCODER") or None
    if path is None:
        y = griffin_lim(logmel, MEL, n_iter=n_iter)
    else:
        import torch

        with torch.no_grad():
            y = _generator(path)(torch.from_numpy(np.asarray(logmel, np.float32))[None]).reshape(-1).numpy()
    peak = float(np.abs(y).max()) if len(y) else 0.0
    return (y * (0.9 / peak) if peak > 0.9 else y).astype(np.float32)
