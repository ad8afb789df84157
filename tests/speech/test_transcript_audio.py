"""Unit checks of the speech pieces: transcript normalisation, truncation, trimming, loudness, SNR."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from preprocess.speech import audio
from preprocess.speech.transcript import normalise_transcript


def test_numbers_and_abbreviations_spelled_out():
    assert normalise_transcript("Dr. Smith paid $5 on the 3rd.") == "doctor smith paid five dollars on the third"
    assert normalise_transcript("Mr. Brown has 21 cats & 2 dogs") == "mister brown has twenty one cats and two dogs"


def _wav(y, sr=22050, subtype="PCM_16"):
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


def test_truncated_wav_is_quarantined_but_whole_one_decodes():
    y = np.sin(np.linspace(0, 400, 22050)).astype(np.float32) * 0.5
    data = _wav(y)
    x, sr = audio.decode_audio(data)
    assert sr == 22050 and x.shape == (22050, 1)
    with pytest.raises(audio.AudioRejected) as e:
        audio.decode_audio(data[: len(data) // 2])
    assert e.value.status == "quarantined" and e.value.kind == "truncated"


def test_trim_loudness_and_snr():
    sr = 22050
    rng = np.random.default_rng(0)
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(sr) / sr) * (1 + np.sin(2 * np.pi * 3 * np.arange(sr) / sr)) / 2
    y = np.concatenate([np.zeros(sr // 2), tone, np.zeros(sr // 2)]).astype(np.float32)
    t = audio.trim_silence(y, 40)
    assert abs(len(t) - sr) < 2048
    out, _ = audio.normalise_loudness(t, sr, -23.0)
    import pyloudnorm

    assert abs(pyloudnorm.Meter(sr).integrated_loudness(out.astype(np.float64)) + 23.0) < 0.5
    noisy = y + rng.normal(0, 0.2, len(y)).astype(np.float32)
    assert audio.snr_db(y, sr) > 30 > audio.snr_db(noisy, sr)


def test_log_mel_matches_librosa():
    import librosa

    from preprocess.speech.mel import MEL, log_mel

    y = np.random.default_rng(0).normal(0, 0.1, 9000).astype(np.float32)
    ref = librosa.feature.melspectrogram(y=y, sr=MEL.sample_rate, n_fft=MEL.n_fft, hop_length=MEL.hop, n_mels=MEL.n_mels,
                                         fmax=MEL.fmax, power=1.0, pad_mode="reflect")
    np.testing.assert_allclose(log_mel(y), np.log(np.maximum(ref, MEL.floor)), atol=1e-4)
