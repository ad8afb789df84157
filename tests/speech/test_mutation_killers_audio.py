"""What speech curation's audio checks do at their edges, pinned on hand-made bytes and signals
(bench/mutation/REPORT.md, module speech_curation): the RIFF/WAVE chunk walk behind the truncation check and
the open-size repair, the header's length, library errors made reproducible, the clip level, the downmix of
channels in opposite phase, resampling, the SNR estimate's frames and bands, trimming and loudness."""

from __future__ import annotations

import io
import struct
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from preprocess.speech import audio
from preprocess.speech.audio import AudioRejected

# --- the RIFF/WAVE chunk walk -----------------------------------------------------------------

FMT = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)  # PCM, mono, 8 kHz, 16 bit


def _riff(*chunks: bytes, riff_size: int | None = None) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size) + body


def _chunk(cid: bytes, payload: bytes, declared: int | None = None) -> bytes:
    pad = b"\0" if len(payload) % 2 else b""
    return cid + struct.pack("<I", len(payload) if declared is None else declared) + payload + pad


def test_only_riff_wave_bytes_are_walked():
    wav = _riff(FMT, _chunk(b"data", b"\1\0" * 4))
    assert audio._wav_data_chunk(wav) == (40, 8)  # the size field of the data chunk, after 12 + 24 + 4 bytes
    assert audio._wav_data_chunk(b"RIFX" + wav[4:]) is None  # big-endian RIFX, AIFF, anything else: not ours
    assert audio._wav_data_chunk(wav[:8] + b"AVI " + wav[12:]) is None
    assert audio._wav_data_chunk(b"RIFF\4\0\0\0WAV") is None  # 11 bytes: no WAVE header
    assert audio._wav_data_chunk(b"RIFF\4\0\0\0WAVE") == (-1, 0)  # the header alone: a WAVE without data


def test_no_data_chunk_reads_as_minus_one_and_a_header_with_stray_bytes_after_it_too():
    assert audio._wav_data_chunk(_riff(FMT)) == (-1, 0)
    assert audio._wav_data_chunk(_riff(FMT) + b"dat") == (-1, 0)  # 3 bytes: no room for a chunk header
    assert audio._wav_truncation(_riff(FMT)) == "no data chunk"
    with pytest.raises(AudioRejected) as e:
        audio.decode_audio(b"RIFF\4\0\0\0WAVE")
    assert (e.value.kind, e.value.detail, e.value.status) == ("truncated", "no data chunk", "quarantined")


def test_a_data_chunk_header_at_the_very_end_is_found():
    wav = _riff(FMT, _chunk(b"data", b""))
    assert audio._wav_data_chunk(wav) == (len(wav) - 4, 0)
    assert audio._wav_truncation(wav) is None


@pytest.mark.parametrize("size", [3, 4, 5, 6])
def test_odd_sized_chunks_are_followed_by_a_pad_byte(size):
    wav = _riff(FMT, _chunk(b"LIST", b"x" * size), _chunk(b"data", b"\1\0" * 4))
    assert audio._wav_data_chunk(wav) == (len(wav) - 8 - 4, 8)


def test_a_data_chunk_declaring_more_than_the_file_holds_is_named_with_both_sizes():
    samples = b"\1\0" * 5
    assert audio._wav_truncation(_riff(FMT, _chunk(b"data", samples))) is None
    assert audio._wav_truncation(_riff(FMT, _chunk(b"data", samples, declared=10))) is None  # exactly what it holds
    assert audio._wav_truncation(_riff(FMT, _chunk(b"data", samples, declared=11))) == "data chunk declares 11 bytes, file holds 10"
    # 2 GiB and more are sizes too (unsigned 32 bit), not negative numbers
    assert audio._wav_truncation(_riff(FMT, _chunk(b"data", samples, declared=2**31))) == \
        "data chunk declares 2147483648 bytes, file holds 10"
    # 0xFFFFFFFF is a streaming writer's "unknown": read to the end, not truncated
    assert audio._wav_truncation(_riff(FMT, _chunk(b"data", samples, declared=0xFFFFFFFF))) is None


def test_a_recording_whose_sizes_were_never_written_gets_the_sizes_it_has():
    wav = _riff(FMT, _chunk(b"data", b"\1\0" * 6, declared=0), riff_size=0)
    fixed = audio._wav_with_open_data_size(wav)
    assert fixed == b"RIFF" + struct.pack("<I", len(wav) - 8) + wav[8:40] + struct.pack("<I", 12) + b"\1\0" * 6
    one = _riff(FMT, b"data" + struct.pack("<I", 0) + b"\1", riff_size=0)  # stopped one byte in
    assert audio._wav_with_open_data_size(one) == b"RIFF" + struct.pack("<I", len(one) - 8) + one[8:40] + struct.pack("<I", 1) + b"\1"


def test_what_needs_no_repair_comes_back_as_it_was():
    for data in (b"fLaC" + bytes(40),  # no RIFF
                 _riff(FMT, riff_size=0),  # no data chunk
                 _riff(FMT, _chunk(b"data", b"\1\0" * 2), riff_size=0),  # a data size written
                 _riff(FMT, _chunk(b"data", b""), riff_size=0)):  # an open size with nothing after it
        assert audio._wav_with_open_data_size(data) is data


class _Huge:
    """The first bytes of a WAV of `size` bytes: what the open-size repair reads of it (its header)."""

    def __init__(self, head: bytes, size: int):
        self.head, self.size = head, size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, s: slice) -> bytes:
        return self.head[s] if (s.start or 0) < len(self.head) else b""


def test_the_repaired_sizes_of_a_recording_over_2_gib_are_unsigned():
    head = _riff(FMT, b"data" + struct.pack("<I", 0), riff_size=0)
    size = 2**31 + 1000
    fixed = audio._wav_with_open_data_size(_Huge(head, size))
    assert fixed[4:8] == struct.pack("<I", size - 8) and fixed[40:44] == struct.pack("<I", size - 44)


# --- the header's length ----------------------------------------------------------------------


def _pcm_wav(frames: int, rate: int = 8000) -> bytes:
    return _riff(FMT[:12] + struct.pack("<I", rate) + FMT[16:], _chunk(b"data", b"\0\0" * frames))


def test_the_header_length_is_frames_over_rate_and_none_without_frames():
    assert audio.header_seconds(_pcm_wav(1)) == 1 / 8000
    assert audio.header_seconds(_pcm_wav(10, rate=1)) == 10.0  # a 1 Hz header is a rate like any other
    assert audio.header_seconds(_pcm_wav(0)) is None  # no frames: decoding says what is wrong with it


@pytest.mark.parametrize("rate,frames", [(22050, 2**63 - 1), (22050, 2**62), (0, 22050)])
def test_a_length_or_rate_libsndfile_does_not_know_is_no_length(monkeypatch, rate, frames):
    # libsndfile reports an unknown length as 2^63 - 1 frames
    monkeypatch.setattr(sf, "info", lambda f: SimpleNamespace(samplerate=rate, frames=frames))
    assert audio.header_seconds(_pcm_wav(4)) is None


def test_a_header_exactly_at_the_undecoded_limit_is_decoded_and_judged():
    at = _pcm_wav(int((0.5 + audio.UNDECODED_MARGIN_S) * 8000))  # 30.5 s
    audio.reject_if_longer(at, 0.5)  # not rejected unread
    with pytest.raises(AudioRejected) as e:
        audio.reject_if_longer(_pcm_wav(int(30.5 * 8000) + 1), 0.5)
    assert (e.value.kind, e.value.score, e.value.threshold) == ("max_duration", 30.5 + 1 / 8000, 0.5)
    audio.reject_if_longer(b"not audio", 0.5)  # no header length: decoding judges it


# --- errors, clipping, channels, rate ---------------------------------------------------------


def test_library_errors_lose_their_addresses_and_line_breaks():
    e = ValueError("bad <_io.BytesIO object at 0x7f3a2b1c9d80> at 0xDEADBEEF12 and 0x12345,\n   then more")
    assert audio.clean_error(e) == "ValueError: bad <data> at 0x? and 0x12345, then more"
    assert audio.clean_error(RuntimeError("<Foo at 0xabcdef1>")) == "RuntimeError: <data>"
    assert audio.clean_error(RuntimeError("<Foo at 0xABCDEF1>")) == "RuntimeError: <data>"  # a C library's %X


def test_a_sample_at_the_clip_level_counts_as_clipped():
    assert audio.clipping_ratio(np.array([audio.CLIP_LEVEL, -audio.CLIP_LEVEL, 0.5, 0.0])) == 0.5


def test_mono_is_the_channel_without_its_dc_offset_in_either_shape():
    y = np.array([1.0, 2.0, 3.0, 6.0])
    np.testing.assert_array_equal(audio.downmix(y), y - 3.0)
    np.testing.assert_array_equal(audio.downmix(y[:, None]), y - 3.0)


def _alternating(n: int = 64) -> np.ndarray:
    return np.tile([1.0, -1.0], n // 2)  # rms 1, no DC


def test_channels_in_opposite_phase_give_the_louder_channel_whichever_it_is():
    s = _alternating()
    for loud in (0, 1):
        x = np.zeros((len(s), 2))
        x[:, loud], x[:, 1 - loud] = s, -0.9 * s  # the mean keeps 0.05 of a level of 0.95
        np.testing.assert_array_equal(audio.downmix(x), x[:, loud])


def test_the_mean_is_kept_when_it_keeps_exactly_a_quarter_of_the_channels_level():
    s = _alternating()
    x = np.stack([1.25 * s, -0.75 * s], axis=1)  # mean 0.25 s: rms 0.25, a quarter of (1.25 + 0.75) / 2
    np.testing.assert_array_equal(audio.downmix(x), 0.25 * s)


def test_resampling_gives_float32_at_the_target_rate():
    y = np.sin(np.arange(44_100) * 0.05)  # float64 in
    out = audio.resample(y, 44_100)
    assert out.dtype == np.float32 and len(out) == 22_050
    same = audio.resample(y, 22_050)
    assert same.dtype == np.float32 and np.array_equal(same, y.astype(np.float32))


def test_the_level_of_full_scale_is_0_dbfs_and_of_half_scale_minus_6():
    assert audio.rms_dbfs(_alternating()) == 0.0
    assert audio.rms_dbfs(0.5 * _alternating()) == pytest.approx(20 * np.log10(0.5), abs=1e-12)
    assert audio.rms_dbfs(np.zeros(8)) == -200.0


# --- the SNR estimate ------------------------------------------------------------------------


def test_snr_cells_are_hann_frames_of_16_bin_bands_without_the_dc_bin():
    cells = audio._snr_cells(np.zeros(22_050))
    assert cells.shape == (1 + (22_050 - 1024) // 256, 32, 16)
    for k, band in ((16, 0), (17, 1), (48, 2), (49, 3)):  # bin k is cell k - 1: bins 1..16 are band 0
        tone = np.cos(2 * np.pi * k * np.arange(4096) / 1024)
        power = audio._snr_cells(tone).sum(axis=(0, 2))
        assert int(np.argmax(power)) == band, k


def test_snr_frames_start_every_hop_from_the_first_sample():
    y = np.zeros(4096)
    y[2000] = 1.0  # in frames 4 .. 7 (256 i <= 2000 < 256 i + 1024)
    lit = np.flatnonzero(audio._snr_cells(y).sum(axis=(1, 2)) > 0)
    assert list(lit) == [4, 5, 6, 7]


def test_a_take_shorter_than_one_fft_is_zero_padded_to_one_frame():
    y = np.zeros(1000)
    y[10] = 1.0
    cells = audio._snr_cells(y)
    assert cells.shape == (1, 32, 16)
    expected = np.square(np.abs(np.fft.rfft(np.pad(y, (0, 24)) * np.hanning(1025)[:-1])))[1:]
    np.testing.assert_allclose(cells.reshape(-1), expected, rtol=1e-12)


def test_a_steady_tone_in_white_noise_reads_its_true_snr():
    rng = np.random.default_rng(0)
    sr = 22_050
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)
    y = np.concatenate([np.zeros(sr // 4), tone, np.zeros(sr // 4)])
    noise = rng.normal(0, 0.01, len(y))
    true = 10 * np.log10(np.mean(y**2) / np.mean(noise**2))  # 24.8 dB
    assert audio.snr_db((y + noise).astype(np.float32)) == pytest.approx(true, abs=0.5)


def test_a_voice_over_digital_silence_reads_the_cap():
    sr = 22_050
    y = np.concatenate([np.zeros(sr // 2), 0.3 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr), np.zeros(sr // 2)])
    assert audio.snr_db(y) == 100.0
    assert audio.snr_db(y, cap=60.0) == 60.0


def test_the_frame_bias_constant_is_reproduced_by_its_measurement():
    # SNR_FRAME_BIAS = 1.64 is snr_frame_bias() with its defaults (1 s clips, 20 of them, seed 0), rounded
    assert audio.snr_frame_bias() == pytest.approx(1.6379576, abs=1e-6)


# --- trimming and loudness --------------------------------------------------------------------


def _block(n: int = 10_240, start: int = 2560, stop: int = 5120, level: float = 0.5) -> np.ndarray:
    y = np.zeros(n)
    y[start:stop] = level
    return y


def test_trimming_keeps_the_frames_that_reach_the_sound_with_the_default_frame_and_hop():
    y = _block()
    # frames of 1024 every 256: frame 7 ([1792, 2816)) is the first to reach 2560, frame 19 ([4864, 5888)) the last
    np.testing.assert_array_equal(audio.trim_silence(y, 40.0), y[1792:5888])


def test_a_frame_exactly_top_db_below_the_loudest_is_trimmed():
    y = _block()
    # frames 7 and 19 hold a quarter of the block: rms half the loudest frame's, exactly 6.02 dB below it
    np.testing.assert_array_equal(audio.trim_silence(y, -20 * np.log10(0.5)), y[2048:5632])  # frames 8 .. 18
    np.testing.assert_array_equal(audio.trim_silence(y, -20 * np.log10(0.5) + 1e-9), y[1792:5888])


def test_one_loud_frame_is_kept_and_a_zero_db_threshold_keeps_nothing():
    y = np.zeros(1280)  # two frames: [0, 1024) and [256, 1280)
    y[0] = 1.0
    np.testing.assert_array_equal(audio.trim_silence(y, 40.0), y[:1024])
    assert len(audio.trim_silence(_block(), 0.0)) == 0  # no frame is louder than the loudest
    assert len(audio.trim_silence(np.full(1024, 0.5), 0.0)) == 0  # one frame exactly: judged as any other


def test_digital_silence_is_not_trimmed_to_nothing():
    assert len(audio.trim_silence(np.zeros(4096), 40.0)) == 4096  # every frame is as loud as the loudest


def test_clips_shorter_than_a_loudness_block_are_measured_from_their_rms():
    sr = 22_050
    short = (0.1 * _alternating(8818)).astype(np.float32)  # under 400 ms (8820 samples)
    out, measured = audio.normalise_loudness(short, sr, -23.0)
    assert measured == audio.rms_dbfs(short) - 0.691 + 3.0
    np.testing.assert_allclose(out, short * 10 ** ((-23.0 - measured) / 20), rtol=1e-6)


def test_a_clip_of_exactly_one_loudness_block_is_measured_by_the_meter():
    import pyloudnorm

    sr = 22_050
    y = 0.1 * np.sin(2 * np.pi * 440 * np.arange(int(0.4 * sr)) / sr)
    _, measured = audio.normalise_loudness(y.astype(np.float32), sr, -23.0)
    assert measured == pytest.approx(pyloudnorm.Meter(sr).integrated_loudness(y), abs=1e-4)
    assert abs(measured - (audio.rms_dbfs(y) - 0.691 + 3.0)) > 0.1  # not the fallback


def test_the_gain_stops_where_the_peak_reaches_095():
    sr = 22_050
    y = np.zeros(sr, np.float32)
    y[::2205] = 0.5  # ten clicks: quiet on average, loud at the peaks
    out, _ = audio.normalise_loudness(y, sr, -14.0)
    assert out.dtype == np.float32 and float(np.abs(out).max()) == pytest.approx(0.95, rel=1e-6)
    np.testing.assert_allclose(out, y * (0.95 / 0.5), rtol=1e-6)  # the same shape, scaled
