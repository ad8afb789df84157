"""A long speech input was decoded whole (float32 at its own rate, resampled, its SNR's STFT)
before its trimmed length met max_duration: a 30-minute FLAC of 34 MB peaked at 4.8 GB, ~150 MB per
minute of audio. Now the header's length rejects it first, unread, with the decoded path's reason
and verdict; within UNDECODED_MARGIN_S of the limit a file is still decoded and judged on its
trimmed length, as before."""

from __future__ import annotations

import io
import struct
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from preprocess.sources import Entry, RawInput
from preprocess.speech import audio
from preprocess.speech.plugin import SpeechOptions, SpeechPlugin

SR = 16_000


def _flac(parts: list[tuple[float, bool]]) -> bytes:
    """(seconds, tone or digital silence) one after the other, mono 16-bit FLAC at 16 kHz."""
    out = []
    for seconds, tone in parts:
        t = np.arange(int(seconds * SR)) / SR
        out.append(0.3 * np.sin(2 * np.pi * 440 * t) if tone else np.zeros_like(t))
    buf = io.BytesIO()
    sf.write(buf, np.concatenate(out).astype(np.float32), SR, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def _analyse(data: bytes, name: str = "long.flac"):
    item = RawInput(name, f"/src/{name}", {"media": Entry(name, f"/src/{name}", len(data), ("bytes", data))})
    (cand,) = SpeechPlugin().analyse(item, "one two three", "0" * 64, SpeechOptions())
    return cand


def test_a_long_input_is_rejected_from_its_header_without_decoding(monkeypatch):
    data = _flac([(120.0, True)])  # 2 minutes: ~0.3 GB decoded before
    decoded = []
    real = audio.decode_audio
    monkeypatch.setattr(audio, "decode_audio", lambda d: decoded.append(len(d)) or real(d))
    tracemalloc.start()
    try:
        cand = _analyse(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert decoded == []
    assert peak < 32 * 2**20, f"{peak / 2**20:.0f} MiB"
    assert (cand.record.status, cand.record.reason) == ("rejected", "max_duration: score 120 vs threshold 15")
    assert [(v.filter, v.score, v.threshold, v.passed) for v in cand.verdicts] == [("max_duration", 120.0, 15.0, False)]


def test_within_the_margin_a_file_is_decoded_and_judged_on_its_trimmed_length():
    """20 s, of which 8 s of leading silence: 12 s after trimming, within max_duration (as before)."""
    assert 20.0 <= SpeechOptions().max_duration + audio.UNDECODED_MARGIN_S
    cand = _analyse(_flac([(8.0, False), (12.0, True)]))
    duration = next(v for v in cand.verdicts if v.filter == "max_duration")
    assert duration.passed and duration.score == pytest.approx(12.0, abs=0.1)
    assert not (cand.record.reason or "").startswith("max_duration")


def test_a_wav_that_declares_more_than_it_holds_is_still_quarantined_truncated():
    """Its header's length is no length: the decoded path's check says what is wrong with it."""
    buf = io.BytesIO()
    sf.write(buf, np.zeros(SR, np.float32), SR, format="WAV", subtype="PCM_16")
    data = bytearray(buf.getvalue())
    at = data.index(b"data") + 4
    data[at:at + 4] = struct.pack("<I", 600 * SR * 2)  # claims 10 minutes
    assert audio.header_seconds(bytes(data)) is None
    cand = _analyse(bytes(data), "cut.wav")
    assert cand.record.status == "quarantined" and cand.record.reason.startswith("truncated:")
