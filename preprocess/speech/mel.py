"""Log-mel spectrograms with the HiFi-GAN / Matcha-TTS settings, and back to audio.

log(clamp(|STFT| mel-filtered, 1e-5)): magnitude (power 1) STFT, n_fft 1024, hop 256, window 1024,
80 Slaney mel bins from 0 to 8000 Hz at 22,050 Hz. The model sees (log-mel - mean) / std with the
mean and std recorded in every sample's meta (so they travel with the encoding).

The settings live here once; evaluation and `lumina sample` read them from the same module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class MelSettings:
    sample_rate: int = 22_050
    n_fft: int = 1024
    hop: int = 256
    win: int = 1024
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float = 8000.0
    floor: float = 1e-5

    def to_dict(self) -> dict:
        return asdict(self)


MEL = MelSettings()
# Log-mel statistics of loudness-normalised speech (-23 LUFS), measured on the demo corpus; a
# dataset may record its own in the curate options.
MEL_MEAN, MEL_STD = -5.0, 2.5


def log_mel(y: np.ndarray, s: MelSettings = MEL) -> np.ndarray:
    """[n] float audio at s.sample_rate -> [n_mels, frames] float32."""
    import librosa

    m = librosa.feature.melspectrogram(y=y.astype(np.float32), sr=s.sample_rate, n_fft=s.n_fft, hop_length=s.hop, win_length=s.win,
                                       n_mels=s.n_mels, fmin=s.fmin, fmax=s.fmax, power=1.0, center=True, pad_mode="reflect")
    return np.log(np.maximum(m, s.floor)).astype(np.float32)


def griffin_lim(logmel: np.ndarray, s: MelSettings = MEL, n_iter: int = 32, seed: int = 0) -> np.ndarray:
    """[n_mels, frames] log-mel -> audio, by mel pseudo-inverse (NNLS) and Griffin-Lim phase."""
    import librosa

    m = np.exp(np.asarray(logmel, dtype=np.float32))
    return librosa.feature.inverse.mel_to_audio(m, sr=s.sample_rate, n_fft=s.n_fft, hop_length=s.hop, win_length=s.win, fmin=s.fmin,
                                                fmax=s.fmax, power=1.0, n_iter=n_iter, center=True, pad_mode="reflect",
                                                random_state=seed).astype(np.float32)


LAYOUTS = ("channels", "image")


def to_latent(logmel: np.ndarray, layout: str, mean: float = MEL_MEAN, std: float = MEL_STD) -> np.ndarray:
    """[n_mels, W] -> the model's [C, T, H, W]: "channels" = [n_mels, 1, 1, W] (patches along time
    only, patch (1, pw)); "image" = [1, 1, n_mels, W] (2-D patches)."""
    z = (np.asarray(logmel, dtype=np.float32) - mean) / std
    if layout == "channels":
        return z[:, None, None, :]
    if layout == "image":
        return z[None, None]
    raise ValueError(f"mel layout must be one of {LAYOUTS}, got {layout!r}")


def from_latent(z: np.ndarray, mean: float = MEL_MEAN, std: float = MEL_STD) -> np.ndarray:
    """[C, T, H, W] in either layout -> [n_mels, W] log-mel."""
    z = np.asarray(z, dtype=np.float32)
    mel = z[:, 0, 0, :] if z.shape[0] > 1 else z[0, 0]
    return mel * std + mean
