"""A float WAV may go past 1.0 without clipping (a DAW's export above 0 dBFS keeps every sample):
only samples flattened at the file's own peak count as clipped. Before, a clean take written 9.5 dB
over full scale was rejected clipping_ratio (1.5% of its samples past 0.999)."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from preprocess.speech import audio


def _speechlike(seconds: float = 1.0, sr: int = 22_050) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) ** 2).astype(np.float32)


def _decoded(x: np.ndarray, subtype: str) -> np.ndarray:
    buf = io.BytesIO()
    sf.write(buf, x, 22_050, format="WAV", subtype=subtype)
    return audio.decode_audio(buf.getvalue())[0]


def test_a_hot_float_take_is_not_clipped_but_a_flattened_one_is():
    hot = _speechlike() * 3.0  # peak 3.6: a third of its samples past 1.0, none flattened
    assert (np.abs(hot) >= 1).mean() > 0.05
    assert audio.clipping_ratio(_decoded(hot, "FLOAT")) < 0.001
    assert audio.clipping_ratio(_decoded(np.clip(hot, -1, 1), "FLOAT")) > 0.05  # clipped at full scale
    assert audio.clipping_ratio(_decoded(np.clip(hot, -2, 2), "FLOAT")) > 0.05  # flattened above it
    assert audio.clipping_ratio(_decoded(np.clip(hot, -1, 1), "PCM_16")) > 0.05
