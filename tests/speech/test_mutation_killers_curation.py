"""What speech curation's `prepare` measures on a take, pinned on hand-made audio (bench/mutation/REPORT.md,
module speech_curation): the source's rate and channels, the clipping ratio before any gain, the level of the
untrimmed mono signal, the length before and after trimming, the loudness before normalisation; the silence
threshold's boundary; and the silence verdict's score."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from preprocess.speech import audio
from preprocess.speech.audio import AudioRejected
from preprocess.speech.curation import prepare, silence_score

SR = 44_100


def _wav(x: np.ndarray, sr: int = SR) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV", subtype="FLOAT")  # float: the samples are read back exactly
    return buf.getvalue()


def _tone_take(clipped: int = 0) -> np.ndarray:
    """1.5 s stereo at 44.1 kHz: 0.25 s of quiet, 1 s of a 440 Hz tone at amplitude 0.5, 0.25 s of quiet, with
    a little noise everywhere; the first `clipped` samples of the tone's left channel at full scale."""
    rng = np.random.default_rng(0)
    n, pad = SR, SR // 4
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(n) / SR)
    mono = np.concatenate([np.zeros(pad), tone, np.zeros(pad)]) + rng.normal(0, 1e-4, n + 2 * pad)
    x = np.stack([mono, mono], axis=1).astype(np.float32)
    x[pad : pad + clipped, 0] = 1.0
    return x


def test_prepare_measures_the_source_and_normalises_the_trimmed_take():
    x = _tone_take(clipped=441)
    p = prepare(_wav(x), 40.0, -23.0, -60.0)
    assert (p.original_sr, p.channels) == (44_100, 2)
    assert p.clipping_ratio == pytest.approx(441 / x.size)  # of the decoded file, both channels, before any gain
    assert p.raw_duration == pytest.approx(1.5, abs=1e-4)  # before trimming, at 22,050 Hz
    assert 1.0 <= p.duration <= 1.1  # the quiet quarter seconds are trimmed, but for a 1024-sample frame at each end
    assert p.duration == len(p.audio) / 22_050 and p.audio.dtype == np.float32
    # the level of the untrimmed mono signal: a 0.5 sine (power 1/8) over 1 s of 1.5
    assert p.rms_dbfs == pytest.approx(10 * np.log10(0.125 / 1.5), abs=0.1)
    # loudness measured on the trimmed take, before its gain: ~ -9.7 LUFS for a 0.5 sine at 440 Hz
    assert p.loudness_lufs == pytest.approx(-9.7, abs=0.5)
    import pyloudnorm

    assert pyloudnorm.Meter(22_050).integrated_loudness(p.audio.astype(np.float64)) == pytest.approx(-23.0, abs=0.1)
    mono = audio.resample(audio.downmix(x), SR)
    assert p.snr_db == audio.snr_db(mono)  # on the untrimmed signal: the pauses are where the floor is measured
    assert 40 < p.snr_db < 100


def test_a_take_exactly_at_the_silence_threshold_is_kept_and_just_below_it_is_silence():
    data = _wav(0.01 * _tone_take())
    level = prepare(data, 40.0, -23.0, -200.0).rms_dbfs
    assert prepare(data, 40.0, -23.0, level).rms_dbfs == level  # the threshold is a floor: at it, the take passes
    with pytest.raises(AudioRejected) as e:
        prepare(data, 40.0, -23.0, level + 1e-9)
    assert (e.value.kind, e.value.status, e.value.score, e.value.threshold) == ("silence", "rejected", level, level + 1e-9)


def test_one_sample_is_judged_silent_not_a_decode_error():
    # one sample at 22,050 Hz is one sample after resampling (not none): its level, without DC, is the floor
    with pytest.raises(AudioRejected) as e:
        prepare(_wav(np.array([[0.5]], np.float32), 22_050), 40.0, -23.0, -60.0)
    assert (e.value.kind, e.value.status, e.value.score) == ("silence", "rejected", -200.0)


@pytest.mark.parametrize("score,expected", [(-71.25, -71.25), (None, -200.0), (float("-inf"), -200.0), (float("nan"), -200.0)])
def test_the_silence_verdict_scores_the_level_or_the_floor(score, expected):
    assert silence_score(AudioRejected("silence", "quiet", score, -60.0)) == expected
