"""Log-mel -> audio. Griffin-Lim (librosa) by default; a HiFi-GAN or Vocos generator (mel [1, 80, W]
-> audio [1, 1, N] or [1, N]) exported with torch.export (``.pt2``) or as TorchScript (other
suffixes) from a local path when given, either as the argument or in LUMINA_SPEECH_VOCODER
(nothing is downloaded)."""

from __future__ import annotations

import os
import zipfile
from functools import lru_cache

import numpy as np

from encoders.audio.mel import MEL, griffin_lim


VOCODER_ENV = "LUMINA_SPEECH_VOCODER"


@lru_cache(maxsize=2)
def _generator(path: str):
    """The generator, or one ValueError naming the file: a missing one printed torch's traceback as a
    warning before the error, and a file that is no export or TorchScript archive ended in a traceback (exit 1)."""
    import torch

    what = f"vocoder {path} ({VOCODER_ENV}: a HiFi-GAN or Vocos generator saved by torch.export as .pt2, or TorchScript)"
    if not os.path.isfile(path):
        raise ValueError(f"{what}: no such file")
    if not zipfile.is_zipfile(path):  # both are zip archives; torch logged its own traceback before its error
        raise ValueError(f"{what}: not a zip archive, as both are")
    try:
        if path.endswith(".pt2"):
            return torch.export.load(path).module()
        return torch.jit.load(path, map_location="cpu").eval()
    except Exception as e:  # noqa: BLE001 - zipfile, torch and pickle errors alike: the file is not one
        raise ValueError(f"{what}: torch cannot load it ({type(e).__name__}: {' '.join(str(e).split())[:200]})") from e


def generator_path(path: str | None = None) -> str | None:
    """The vocoder file in use (``path``, else $LUMINA_SPEECH_VOCODER; None: Griffin-Lim), loaded once
    to check it: lumina sample and evaluate call this before sampling, so a wrong path costs no samples."""
    path = path or os.environ.get(VOCODER_ENV) or None
    if path is not None:
        _generator(path)
    return path


def vocode(logmel: np.ndarray, path: str | None = None, n_iter: int = 64) -> np.ndarray:
    """[80, W] log-mel (natural log, HiFi-GAN settings) -> float32 audio at 22,050 Hz."""
    path = generator_path(path)
    if path is None:
        y = griffin_lim(logmel, MEL, n_iter=n_iter)
    else:
        import torch

        with torch.no_grad():
            y = _generator(path)(torch.from_numpy(np.asarray(logmel, np.float32))[None]).reshape(-1).numpy()
    peak = float(np.abs(y).max()) if len(y) else 0.0
    return (y * (0.9 / peak) if peak > 0.9 else y).astype(np.float32)
