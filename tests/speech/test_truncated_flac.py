"""A FLAC take cut short is quarantined `truncated`, as a cut WAV, OGG, MP3 or AIFF is: libsndfile
says only "flac decoder lost sync", and before this such a take was quarantined
`decode_error: LibsndfileError: Error : flac decoder lost sync.`. Damage inside a file whose end is
whole stays a decode_error."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import soundfile as sf

from preprocess.speech import audio


def _flac(sr: int, channels: int, subtype: str) -> bytes:
    t = np.arange(2 * sr) / sr
    y = (0.3 * np.sin(2 * np.pi * 220 * t) * np.sin(np.pi * t / 2)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, np.stack([y] * channels, 1), sr, format="FLAC", subtype=subtype)
    return buf.getvalue()


def _kind(data: bytes) -> str:
    try:
        audio.decode_audio(data)
    except audio.AudioRejected as r:
        return f"{r.status} {r.kind}: {r.detail}"
    return "decoded"


@pytest.mark.parametrize("sr, channels, subtype", [(44_100, 1, "PCM_16"), (48_000, 2, "PCM_24")])
def test_a_flac_cut_short_is_truncated_and_a_whole_one_decodes(sr, channels, subtype):
    data = _flac(sr, channels, subtype)
    assert _kind(data) == "decoded"
    for cut in (0.3, 0.6, 0.999):
        got = _kind(data[: int(len(data) * cut)])
        assert re.fullmatch(rf"quarantined truncated: last frame \(from sample \d+\) cut short; STREAMINFO declares {2 * sr} samples", got), got


def test_a_flac_cut_between_frames_is_truncated_and_damage_inside_is_a_decode_error():
    data = _flac(44_100, 1, "PCM_16")
    frames = [m.start() for m in re.finditer(b"\xff\xf8", data)]
    assert _kind(data[: frames[11]]) == "quarantined truncated: the frames end at sample 45056, STREAMINFO declares 88200"
    damaged = bytearray(data)
    damaged[len(data) // 2: len(data) // 2 + 50] = bytes(50)
    assert _kind(bytes(damaged)).startswith("quarantined decode_error: ")
