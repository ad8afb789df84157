"""One audio file -> normalised 22,050 Hz mono speech and the measurements its filters judge.

``prepare`` is deterministic, so the shard writer can redo it from the source bytes instead of
shipping audio between processes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from preprocess.speech import audio
from preprocess.speech.audio import AudioRejected


@dataclass
class Prepared:
    audio: np.ndarray  # float32 mono at TARGET_SR: trimmed and loudness-normalised
    original_sr: int
    channels: int
    clipping_ratio: float
    rms_dbfs: float  # of the untrimmed mono signal
    snr_db: float
    raw_duration: float  # seconds before trimming
    loudness_lufs: float  # measured before normalisation

    @property
    def duration(self) -> float:
        return len(self.audio) / audio.TARGET_SR


def prepare(data: bytes, trim_top_db: float, target_lufs: float, silence_dbfs: float) -> Prepared:
    """Raises AudioRejected: quarantined for broken files, rejected (silence) when nothing is there to trim to."""
    x, sr = audio.decode_audio(data)
    clip = audio.clipping_ratio(x)
    y = audio.resample(audio.downmix(x), sr)
    if y.size == 0:  # a handful of samples at a high rate are none at TARGET_SR: no audio to judge
        raise AudioRejected("decode_error", f"{x.shape[0]} samples at {sr} Hz are none at {audio.TARGET_SR} Hz", status="quarantined")
    level = audio.rms_dbfs(y)
    if level < silence_dbfs:
        raise AudioRejected("silence", f"level {level:.1f} dBFS vs threshold {silence_dbfs:g}", level, silence_dbfs)
    snr = audio.snr_db(y)
    normalised, lufs = _trimmed_and_normalised(y, trim_top_db, target_lufs)
    return Prepared(normalised, sr, int(x.shape[1]), clip, level, snr, len(y) / audio.TARGET_SR, lufs)


def normalised_audio(data: bytes, trim_top_db: float, target_lufs: float) -> np.ndarray:
    """``prepare``'s audio without its measurements (clipping, level, SNR), for a take the analysis
    has already accepted: the shard writer's (the SNR estimate was a third of its CPU on 1,000 takes)."""
    x, sr = audio.decode_audio(data)
    return _trimmed_and_normalised(audio.resample(audio.downmix(x), sr), trim_top_db, target_lufs)[0]


def _trimmed_and_normalised(y: np.ndarray, trim_top_db: float, target_lufs: float) -> tuple[np.ndarray, float]:
    return audio.normalise_loudness(audio.trim_silence(y, trim_top_db), audio.TARGET_SR, target_lufs)


def silence_score(e: AudioRejected) -> float:
    return float(e.score) if e.score is not None and np.isfinite(e.score) else -200.0
