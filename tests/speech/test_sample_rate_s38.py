"""A WAV whose header declares a sample rate of 0 Hz or 4e9 Hz is quarantined `decode_error: header
sample rate N Hz, ...`, deterministic and without a library's message or a numpy warning. Before:
`analysis_error: ValueError: Sample rate should be over 0` (soxr) and `analysis_error: ValueError:
zero-size array to reduction operation maximum which has no identity` (4e9 Hz resampled 11,000
samples to none; the loudness step took the max of the empty array after "Mean of empty slice").
libsndfile refuses such headers; audioread's fallback (Python's wave module) reads them, rate and all:
a test that turns every warning into an error breaks that fallback (its sunau import warns), so only
RuntimeWarning is one here."""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np
import pytest

from contracts.records import Batch
from preprocess.curate import CurateConfig, curate


def _wav(rate: int, n: int = 11_025) -> bytes:
    """A 16-bit mono WAV of a tone whose header's sample rate (and byte rate) say `rate`."""
    import soundfile as sf

    t = np.arange(n) / 22_050
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 22_050, format="WAV", subtype="PCM_16")
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"fmt "
    data[24:28] = struct.pack("<I", rate)
    data[28:32] = struct.pack("<I", (rate * 2) & 0xFFFFFFFF)
    return bytes(data)


@pytest.mark.parametrize("rate", [0, 999, 768_001, 4_000_000_000])
def test_a_header_rate_outside_the_sane_range_is_a_decode_error(rate):
    from preprocess.speech.audio import AudioRejected
    from preprocess.speech.curation import prepare

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy's "Mean of empty slice" printed before
        with pytest.raises(AudioRejected) as e:
            prepare(_wav(rate), 40, -23, -60)
    assert (e.value.kind, e.value.status) == ("decode_error", "quarantined")
    assert e.value.detail == f"header sample rate {rate} Hz, outside 1000..768000 Hz"


@pytest.mark.parametrize("rate", [1_000, 768_000])
def test_the_range_s_ends_are_decoded(rate):
    from preprocess.speech.audio import decode_audio

    x, sr = decode_audio(_wav(rate))
    assert sr == rate and x.shape == (11_025, 1)


def test_a_few_samples_at_a_high_rate_are_no_audio_not_a_library_error():
    from preprocess.speech.audio import AudioRejected
    from preprocess.speech.curation import prepare

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(AudioRejected) as e:
            prepare(_wav(768_000, n=10), 40, -23, -60)  # soxr gives 0 samples at 22,050 Hz
    assert (e.value.kind, e.value.status) == ("decode_error", "quarantined")
    assert e.value.detail == "10 samples at 768000 Hz are none at 22050 Hz"


def test_empty_arrays_in_the_level_and_loudness_steps():
    from preprocess.speech import audio

    empty = np.zeros(0, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert audio.rms_dbfs(empty) == -200.0
        out, _ = audio.normalise_loudness(empty, audio.TARGET_SR, -23.0)
    assert out.shape == (0,) and out.dtype == np.float32


def test_curate_quarantines_both_with_the_header_s_rate(tmp_path):
    src = tmp_path / "sr"
    src.mkdir()
    for name, rate in (("zerorate", 0), ("hugerate", 4_000_000_000)):
        (src / f"{name}.wav").write_bytes(_wav(rate))
        (src / f"{name}.txt").write_text("seven")
    result = curate(str(src), tmp_path / "home", CurateConfig(modality="speech"), backend="local")
    rows = {s.source_uri.rsplit("/", 1)[-1]: (s.status, s.reason) for p in result.batch_paths for s in Batch.read(p).samples}
    assert rows == {
        "zerorate.wav": ("quarantined", "decode_error: header sample rate 0 Hz, outside 1000..768000 Hz"),
        "hugerate.wav": ("quarantined", "decode_error: header sample rate 4000000000 Hz, outside 1000..768000 Hz"),
    }
