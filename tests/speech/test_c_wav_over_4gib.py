"""A WAVE whose sizes were never written (a recorder killed mid-take) and that holds more than RIFF's
32-bit sizes can say (4 GiB): audio._wav_with_open_data_size packed its size with "<I" and raised
struct.error, which left the analysis with a library message; it is now made an RF64 (64-bit sizes in
a ds64 chunk) that libsndfile reads whole. Without writing 4 GiB: a bytes stand-in that is only its
header, a sparse file for libsndfile's reading of the header, and the RF64 path on a small file."""

from __future__ import annotations

import io
import os
import struct

import numpy as np
import pytest
import soundfile as sf

from preprocess.speech import audio

FMT = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)  # PCM, mono, 8 kHz, 16 bit
OVER = 2**32 + 1000  # bytes: a WAVE larger than a 32-bit size field can declare


def _head(declared: int, riff_size: int) -> bytes:
    """The 44 bytes before the samples: RIFF, fmt, and a data chunk header declaring ``declared``."""
    return b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + FMT + b"data" + struct.pack("<I", declared)


class _Huge:
    """A WAVE of ``size`` bytes of which only the header is held (what the repair reads of it)."""

    def __init__(self, head: bytes, size: int):
        self.head, self.size = head, size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, s: slice) -> bytes:
        return self.head[s] if (s.start or 0) < len(self.head) else b""


def _rf64_head(size: int) -> bytes:
    """The header the repair gives a WAVE of ``size`` bytes with 44 bytes of header (36 more)."""
    ds64 = b"ds64" + struct.pack("<IQQQI", 28, size + 36 - 8, size - 44, 0, 0)
    return b"RF64" + b"\xff" * 4 + b"WAVE" + ds64 + FMT + b"data" + b"\xff" * 4


@pytest.mark.parametrize("declared,riff_size", [(0, 0), (0, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0)])
def test_an_open_sized_wave_over_4_gib_becomes_an_rf64_with_its_64_bit_sizes(declared, riff_size):
    fixed = audio._wav_with_open_data_size(_Huge(_head(declared, riff_size), OVER))  # raised struct.error for 0
    assert fixed == _rf64_head(OVER)  # 0xFFFFFFFF came back as it was: libsndfile read its first 4 GiB


def test_the_largest_wave_riff_can_describe_keeps_riff_and_one_byte_more_is_rf64():
    at_limit = 0xFFFFFFFF + 8  # the RIFF size field holds exactly 0xFFFFFFFF
    fixed = audio._wav_with_open_data_size(_Huge(_head(0, 0), at_limit))
    assert fixed == b"RIFF" + b"\xff" * 4 + b"WAVE" + FMT + b"data" + struct.pack("<I", at_limit - 44)
    assert audio._wav_with_open_data_size(_Huge(_head(0, 0), at_limit + 1)) == _rf64_head(at_limit + 1)
    # a data size of 0xFFFFFFFF with at most that many bytes after it is libsndfile's to read to the end, as before
    under = _Huge(_head(0xFFFFFFFF, 0xFFFFFFFF), 0xFFFFFFFF + 44)
    assert audio._wav_with_open_data_size(under) is under


def test_libsndfile_reads_the_repaired_header_of_a_take_over_4_gib_as_all_its_frames(tmp_path):
    """The repaired header on a sparse file of the take's size (no 4 GiB written): libsndfile
    counts every frame, where the WAVE with 0xFFFFFFFF counted 2^31 - 1 (its first 4 GiB)."""
    path = tmp_path / "take.wav"
    with open(path, "wb") as f:
        f.write(audio._wav_with_open_data_size(_Huge(_head(0, 0), OVER)))
        f.truncate(OVER + 36)
    if os.stat(path).st_blocks * 512 > 1 << 20:  # a filesystem without sparse files wrote it out
        path.unlink()
        pytest.skip("no sparse files here")
    info = sf.info(str(path))
    path.unlink()
    assert (info.format, info.frames) == ("RF64", (OVER - 44) // 2)


def test_the_rf64_repair_decodes_the_samples_libsndfile_reads_from_its_own_rf64_and_w64(monkeypatch):
    """The RF64 path on a small file (the RIFF limit lowered to 100 bytes): every sample comes back,
    as from the RF64 and W64 files libsndfile writes itself (which decode as they are)."""
    pcm = ((np.arange(4000) * 7919) % 20000 - 10000).astype("<i2")
    wav = _head(0, 0) + pcm.tobytes()
    monkeypatch.setattr(audio, "RIFF_MAX_SIZE", 100)
    fixed = audio._wav_with_open_data_size(wav)
    assert fixed[:4] == b"RF64" and len(fixed) == len(wav) + 36
    x, sr = audio.decode_audio(wav)
    assert sr == 8000 and np.array_equal(x[:, 0], pcm / np.float32(32768))
    assert audio.header_seconds(wav) == 0.5
    for fmt in ("RF64", "W64"):
        buf = io.BytesIO()
        sf.write(buf, pcm, 8000, format=fmt, subtype="PCM_16")
        assert audio.header_seconds(buf.getvalue()) == 0.5
        assert np.array_equal(audio.decode_audio(buf.getvalue())[0], x)
