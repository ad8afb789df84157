"""Decoding and checking audio: every way a file can be broken or unusable becomes an
``AudioRejected`` with a reason kind, a score and a threshold (or an error for quarantine).

Order matters: non-finite samples and the original sample rate are checked on the decoded file,
clipping before any gain, silence and SNR before trimming (the pauses are where the noise floor
is measured), duration after trimming, loudness normalisation last.
"""

from __future__ import annotations

import io
import re
import struct

import numpy as np

TARGET_SR = 22_050  # HiFi-GAN / Matcha-TTS (LJSpeech) rate
CLIP_LEVEL = 0.999  # |x| at or above this (of full scale) counts as clipped


class AudioRejected(Exception):
    """``status`` is "rejected" for a filter decision, "quarantined" for a broken file."""

    def __init__(self, kind: str, detail: str, score: float | None = None, threshold: float | None = None, status: str = "rejected"):
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail, self.score, self.threshold, self.status = kind, detail, score, threshold, status


def clean_error(e: Exception) -> str:
    """An error message without object reprs or memory addresses (reasons must be reproducible)."""
    msg = re.sub(r"<[^>]*at 0x[0-9a-fA-F]+>", "<data>", str(e))
    msg = re.sub(r"0x[0-9a-fA-F]{6,}", "0x?", msg)
    return f"{type(e).__name__}: {' '.join(msg.split())}"


def _wav_data_chunk(data: bytes) -> tuple[int, int] | None:
    """(offset of the size field, declared size) of a RIFF/WAVE's data chunk; None when the bytes
    are no RIFF/WAVE; (-1, 0) when no data chunk is found."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if cid == b"data":
            return pos + 4, size
        pos += 8 + size + (size & 1)
    return -1, 0


def _wav_truncation(data: bytes) -> str | None:
    """A RIFF/WAVE whose data chunk claims more bytes than the file holds (libsndfile reads such a
    file without complaint, silently shorter)."""
    chunk = _wav_data_chunk(data)
    if chunk is None:
        return None
    at, size = chunk
    if at < 0:
        return "no data chunk"
    have = len(data) - at - 4
    return None if have >= size or size == 0xFFFFFFFF else f"data chunk declares {size} bytes, file holds {have}"


def _wav_with_open_data_size(data: bytes) -> bytes:
    """A RIFF/WAVE whose data chunk declares 0 bytes with samples after it (a recorder stopped
    before writing the sizes, as a streaming writer does) with the sizes the file actually has;
    libsndfile would read it as empty. Anything else comes back unchanged."""
    chunk = _wav_data_chunk(data)
    if chunk is None or chunk[0] < 0 or chunk[1] != 0 or len(data) - chunk[0] - 4 <= 0:
        return data
    at = chunk[0]
    return data[:4] + struct.pack("<I", len(data) - 8) + data[8:at] + struct.pack("<I", len(data) - at - 4) + data[at + 4:]


def decode_audio(data: bytes) -> tuple[np.ndarray, int]:
    """bytes -> (float32 [n, channels] in [-1, 1], sample rate). wav/flac/ogg/mp3 via libsndfile,
    audioread as a fallback for what libsndfile lacks. Raises AudioRejected(status=quarantined)."""
    import soundfile as sf

    if not data:  # as video and image say it, not as libsndfile's error
        raise AudioRejected("empty_file", "0 bytes", status="quarantined")
    data = _wav_with_open_data_size(data)
    truncated = _wav_truncation(data)
    if truncated:
        raise AudioRejected("truncated", truncated, status="quarantined")
    try:
        x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as e:  # noqa: BLE001 - libsndfile raises LibsndfileError/RuntimeError
        try:
            x, sr = _decode_audioread(data)
        except Exception:  # noqa: BLE001
            raise AudioRejected("decode_error", clean_error(e), status="quarantined") from None
    if x.size == 0:
        raise AudioRejected("decode_error", "no samples", status="quarantined")
    bad = int((~np.isfinite(x)).sum())
    if bad:
        raise AudioRejected("invalid_samples", f"{bad} non-finite samples of {x.size}", float(bad), 0.0, status="quarantined")
    return x, int(sr)


def _decode_audioread(data: bytes) -> tuple[np.ndarray, int]:
    import tempfile

    import audioread

    with tempfile.NamedTemporaryFile(suffix=".audio") as f:
        f.write(data)
        f.flush()
        with audioread.audio_open(f.name) as af:
            sr, ch = af.samplerate, af.channels
            pcm = np.frombuffer(b"".join(af), dtype="<i2")
    return (pcm.astype(np.float32) / 32768.0).reshape(-1, ch), int(sr)


def clipping_ratio(x: np.ndarray) -> float:
    return float((np.abs(x) >= CLIP_LEVEL).mean())


def downmix(x: np.ndarray) -> np.ndarray:
    """Mono, without DC offset. Channels in opposite phase (a miswired microphone) cancel in the
    mean: when the mean keeps less than a quarter of the channels' level, the loudest channel is used."""
    if x.ndim == 2 and x.shape[1] > 1:
        x = x - x.mean(axis=0)
        y = x.mean(axis=1)
        per_channel = np.sqrt(np.mean(np.square(x, dtype=np.float64), axis=0))
        if np.sqrt(np.mean(np.square(y, dtype=np.float64))) < 0.25 * per_channel.mean():
            y = x[:, int(np.argmax(per_channel))]
        return y
    y = x[:, 0] if x.ndim == 2 else x
    return y - y.mean()


def resample(y: np.ndarray, sr: int, target: int = TARGET_SR) -> np.ndarray:
    if sr == target:
        return y.astype(np.float32)
    import soxr

    return soxr.resample(y, sr, target, quality="HQ").astype(np.float32)


def rms_dbfs(y: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(y, dtype=np.float64)) + 1e-20))


def snr_db(y: np.ndarray, sr: int, cap: float = 100.0) -> float:
    """Per mel band, the noise floor is the 10th percentile of its power over frames (minimum
    statistics); the SNR is the power above the floors over the floors, summed over bands. Clean
    speech is quiet in some band at almost every moment (a vowel has no hiss, a fricative no
    bass) even with no pause at all; steady noise fills every band all the time."""
    from encoders.audio.mel import log_mel

    power = np.exp(2.0 * log_mel(y).astype(np.float64))  # (n_mels, frames)
    floor = np.percentile(power, 10, axis=1)
    signal = np.maximum(power.mean(axis=1) - floor, 0.0).sum()
    noise = floor.sum()
    if noise <= 1e-20:
        return cap
    return float(min(cap, 10 * np.log10(max(signal, 1e-20) / noise)))


def trim_silence(y: np.ndarray, top_db: float, frame: int = 1024, hop: int = 256) -> np.ndarray:
    """Cut leading and trailing frames whose RMS is more than top_db below the loudest frame
    (librosa.effects.trim's rule, in numpy: its numba compilation costs seconds per worker)."""
    if len(y) < frame:
        return y
    n = 1 + (len(y) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    rms = np.sqrt(np.mean(np.square(y[idx], dtype=np.float64), axis=1))
    db = 20 * np.log10(np.maximum(rms, 1e-10) / max(rms.max(), 1e-10))
    loud = np.flatnonzero(db > -top_db)
    if len(loud) == 0:
        return y[:0]
    return y[loud[0] * hop : min(len(y), loud[-1] * hop + frame)]


def normalise_loudness(y: np.ndarray, sr: int, target_lufs: float, peak: float = 0.95) -> tuple[np.ndarray, float]:
    """ITU-R BS.1770 integrated loudness to target_lufs (pyloudnorm); clips shorter than its 400 ms
    block fall back to RMS. The peak is then limited so the gain never clips. Returns (y, measured)."""
    measured = float("-inf")
    if len(y) >= int(0.4 * sr):
        import pyloudnorm

        measured = float(pyloudnorm.Meter(sr).integrated_loudness(y.astype(np.float64)))
    if not np.isfinite(measured):
        measured = rms_dbfs(y) - 0.691 + 3.0  # ~LUFS of a mono signal from its RMS (K-weighting ignored)
    out = y * (10 ** ((target_lufs - measured) / 20))
    top = float(np.abs(out).max())
    if top > peak:
        out = out * (peak / top)
    return out.astype(np.float32), measured
