"""Mel-cepstral distortion between two log-mels, aligned by dynamic time warping.

Cepstra are the DCT-II of the natural-log mel magnitudes scaled as a real cepstrum
(c_k = (1/N) sum_n log|M_n| cos(pi k (2n + 1) / 2N), N = 80 bins), coefficients 1..12 (c0, the
level, left out); MCD = 10 / ln 10 * sqrt(2 * sum_d (c_d - c'_d)^2), averaged over the DTW path.
This is the mel-cepstrum of the HiFi-GAN log-mel, not SPTK's mcep: compare it with the
real-vs-real figure printed beside it, not with numbers from papers.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import dct

K = 10.0 / np.log(10.0) * np.sqrt(2.0)


def mel_cepstrum(logmel: np.ndarray, order: int = 12) -> np.ndarray:
    n = logmel.shape[0]
    return (dct(np.asarray(logmel, np.float64), type=2, axis=0) / (2 * n))[1 : order + 1].T  # (W, order)


def dtw_mean_cost(cost: np.ndarray) -> float:
    """Mean cost along the cheapest monotone path (steps right, down, diagonal; librosa's DTW)."""
    import librosa

    acc, path = librosa.sequence.dtw(C=cost, backtrack=True)
    return float(acc[-1, -1] / len(path))


def mcd(a: np.ndarray, b: np.ndarray) -> float:
    """[n_mels, Wa] and [n_mels, Wb] log-mels -> MCD in dB."""
    ca, cb = mel_cepstrum(a), mel_cepstrum(b)
    cost = K * np.sqrt(((ca[:, None, :] - cb[None, :, :]) ** 2).sum(-1))
    return dtw_mean_cost(cost)
