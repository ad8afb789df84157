"""Log-mel spectrograms with the HiFi-GAN / Matcha-TTS settings, and back to audio.

log(clamp(|STFT| mel-filtered, 1e-5)): magnitude (power 1) STFT, n_fft 1024, hop 256, window 1024,
80 Slaney mel bins from 0 to 8000 Hz at 22,050 Hz. The model sees (log-mel - mean) / std with the
dataset's own mean and std, measured at encoding time and held by the identity latent encoder as its
shift and scale (preprocess/speech/normalisation.py): no constant here normalises anything.

The settings live here once; evaluation and `lumina sample` read them from the same module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

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


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), lin)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))


@lru_cache(maxsize=4)
def mel_filters(s: MelSettings = MEL) -> np.ndarray:
    """[n_mels, n_fft // 2 + 1] Slaney-normalised triangles: librosa.filters.mel's matrix, in numpy
    (librosa's first call costs seconds of lazy imports in every worker)."""
    fft_f = np.linspace(0, s.sample_rate / 2, s.n_fft // 2 + 1)
    pts = _mel_to_hz(np.linspace(_hz_to_mel(s.fmin), _hz_to_mel(s.fmax), s.n_mels + 2))
    fdiff = np.diff(pts)
    ramps = pts[:, None] - fft_f[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    w = np.maximum(0, np.minimum(lower, upper))
    w *= (2.0 / (pts[2:] - pts[:-2]))[:, None]
    return w.astype(np.float32)


def log_mel(y: np.ndarray, s: MelSettings = MEL) -> np.ndarray:
    """[n] float audio at s.sample_rate -> [n_mels, frames] float32 (centred frames, reflect padding)."""
    y = np.asarray(y, dtype=np.float32)
    pad = s.n_fft // 2
    y = np.pad(y, pad, mode="reflect" if len(y) > pad else "constant")
    n = 1 + (len(y) - s.n_fft) // s.hop
    frames = np.lib.stride_tricks.as_strided(y, (n, s.n_fft), (y.strides[0] * s.hop, y.strides[0]))
    window = np.hanning(s.win + 1)[:-1].astype(np.float32)  # periodic Hann, as scipy.signal.get_window
    mag = np.ascontiguousarray(np.abs(np.fft.rfft(frames * window, axis=1)), dtype=np.float32)  # (frames, n_fft // 2 + 1)
    # Not `mel_filters(s) @ mag.T`: OpenBLAS's sgemm sums in an order that depends on its thread count
    # (OPENBLAS_NUM_THREADS=1 and 2 gave mels 1e-6 apart, so a shard's bytes depended on the backend
    # and the machine). numpy's own einsum loop (optimize=False: no BLAS) sums each row in one fixed
    # order, on inputs of a fixed layout: the same bytes at any thread count, ~12 ms for 15 s of audio.
    mel = np.einsum("mf,tf->mt", mel_filters(s), mag, optimize=False)
    return np.log(np.maximum(mel, s.floor)).astype(np.float32)


@lru_cache(maxsize=4)
def _inverse_filters(s: MelSettings = MEL) -> np.ndarray:
    return np.linalg.pinv(mel_filters(s)).astype(np.float32)


def griffin_lim(logmel: np.ndarray, s: MelSettings = MEL, n_iter: int = 64, seed: int = 0) -> np.ndarray:
    """[n_mels, frames] log-mel -> audio: linear magnitudes by the mel filters' pseudo-inverse (clamped
    at the floor), phase by Griffin-Lim (librosa, fast variant with momentum 0.99). On 24 real espeak
    digits pocketsphinx's WER was 0.54 after 32 iterations, 0.375 after 64, as on the clean audio; the
    NNLS inverse (librosa's mel_to_stft) gave the same WER for a third more time."""
    import librosa

    mag = np.maximum(_inverse_filters(s) @ np.exp(np.asarray(logmel, dtype=np.float32)), s.floor)
    y = librosa.griffinlim(mag, n_iter=n_iter, hop_length=s.hop, win_length=s.win, n_fft=s.n_fft, center=True, pad_mode="reflect",
                           init="random", random_state=seed)
    return y.astype(np.float32)


LAYOUTS = ("channels", "image")


def to_latent(logmel: np.ndarray, layout: str) -> np.ndarray:
    """[n_mels, W] -> the [C, T, H, W] layout: "channels" = [n_mels, 1, 1, W] (patches along time
    only, patch (1, pw)); "image" = [1, 1, n_mels, W] (2-D patches). Values unchanged."""
    z = np.asarray(logmel, dtype=np.float32)
    if layout == "channels":
        return z[:, None, None, :]
    if layout == "image":
        return z[None, None]
    raise ValueError(f"mel layout must be one of {LAYOUTS}, got {layout!r}")


def from_latent(z: np.ndarray) -> np.ndarray:
    """[C, T, H, W] in either layout -> [n_mels, W] (decode with the latent encoder first)."""
    z = np.asarray(z, dtype=np.float32)
    return z[:, 0, 0, :] if z.shape[0] > 1 else z[0, 0]
