"""Scale walk (1,000 own espeak-ng takes, 2026-12-06): the curated-shard writer redid the whole
analysis of every accepted take (SpeechPlugin.curated_members called curation.prepare), the blind
SNR estimate included, which the shard does not hold and the analysis had already judged: 16 of 62
profiled CPU seconds of `lumina curate` went to snr_db, half of them in the writer. The writer now
makes only what the shard holds (the normalised audio and its log-mel), with the same bytes."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from contracts.records import SampleRecord
from contracts.shards import npy_bytes
from encoders.audio import mel as melspec
from preprocess.modality import Candidate
from preprocess.sources import Entry, RawInput
from preprocess.speech import audio
from preprocess.speech.curation import prepare
from preprocess.speech.espeak import synthesise
from preprocess.speech.plugin import SpeechOptions, SpeechPlugin


def _takes() -> dict[str, bytes]:
    y, sr = synthesise("seven pm on may fifth", "en-us+f3", 150, 50, seed=0)
    x = y.astype(np.float32) / 32768.0
    import soxr

    out = {}
    for name, (data, rate, fmt) in {
        "mono.wav": (x, sr, "WAV"),
        "stereo.flac": (np.stack([x, 0.5 * x], 1), sr, "FLAC"),
        "forty_eight_khz.wav": (soxr.resample(x, sr, 48_000), 48_000, "WAV"),
        "short.wav": (x[: int(0.3 * sr)], sr, "WAV"),  # under pyloudnorm's 400 ms block
    }.items():
        buf = io.BytesIO()
        sf.write(buf, data, rate, format=fmt, subtype="PCM_16")
        out[name] = buf.getvalue()
    return out


def _candidate(name: str, data: bytes) -> Candidate:
    entry = Entry(name, f"/corpus/{name}", len(data), ("bytes", data))
    rec = SampleRecord(key="k", modality="speech", source_uri=entry.uri, split="train", status="accepted")
    return Candidate(rec, [], RawInput(name, entry.uri, {"media": entry}))


@pytest.mark.parametrize("name", ["mono.wav", "stereo.flac", "forty_eight_khz.wav", "short.wav"])
def test_writer_makes_the_analysed_audio_without_estimating_snr_again(name, monkeypatch):
    data = _takes()[name]
    opts = SpeechOptions()
    p = prepare(data, opts.trim_top_db, opts.target_lufs, opts.silence_dbfs)  # what the analysis judged
    calls = []
    real = audio.snr_db
    monkeypatch.setattr(audio, "snr_db", lambda *a, **k: calls.append(1) or real(*a, **k))
    members = SpeechPlugin().curated_members(_candidate(name, data), opts)
    assert calls == [], "the shard writer estimated the SNR again"
    buf = io.BytesIO()
    sf.write(buf, p.audio, audio.TARGET_SR, format="FLAC", subtype="PCM_16")
    assert members["flac"] == buf.getvalue()
    assert members["mel.npy"] == npy_bytes(melspec.log_mel(p.audio))
