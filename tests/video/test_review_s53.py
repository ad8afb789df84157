"""Session 53 review (helper S). An FLV or WMV/ASF declares one length for the whole file, which an
audio track running past the video sets: a whole clip of 10 frames (0.4 s) with 3 s of audio was
quarantined truncated ('decoded 10 frames, 0.400 s of the 3.018 s the container declares'), as MPEG
program streams and Ogg were until 7f50753. The length is the audio's when that track's packets reach
it; a copy cut short (at a tag boundary, where the tag walk sees nothing) still falls short on every track."""

from __future__ import annotations

import io
import struct

import av
import numpy as np
import pytest

from preprocess.video.decode import VideoRejected, decode_video

W, H, RATE = 64, 48, 44100


def _clip(fmt: str, vcodec: str, acodec: str | None, frames: int, audio_s: float = 0.0) -> bytes:
    """``frames`` of a moving square at 25 fps, and ``audio_s`` of tone in ``acodec`` (None: no audio track)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as c:
        v = c.add_stream(vcodec, rate=25)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        a = c.add_stream(acodec, rate=RATE) if acodec else None
        if a is not None:  # set before the header is written at the first mux
            a.bit_rate, a.layout = 64000, "stereo"
        for i in range(frames):
            f = np.full((H, W, 3), 60, np.uint8)
            f[6:18, 6 + i:22 + i] = (240, 40, 40)
            for p in v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        if a is not None:
            _mux_tone(c, a, audio_s)
    return buf.getvalue()


def _mux_tone(c, a, seconds: float) -> None:
    size, fmt_a = a.codec_context.frame_size or 1024, a.codec_context.format.name
    for k in range(int(seconds * RATE) // size):
        tone = (np.sin(np.arange(size) / 10.0 + k) * 0.1).astype(np.float32)
        arr = np.tile(tone, (2, 1)) if fmt_a == "fltp" else np.tile(tone, 2)[None]
        frame = av.AudioFrame.from_ndarray(arr, format=fmt_a, layout="stereo")
        frame.sample_rate, frame.pts = RATE, k * size
        for p in a.encode(frame):
            c.mux(p)
    for p in a.encode():
        c.mux(p)


@pytest.mark.parametrize("fmt, vcodec, acodec", [("flv", "flv", "aac"), ("asf", "wmv2", "wmav2")])
def test_audio_running_past_the_video_is_no_cut(fmt, vcodec, acodec):
    video = decode_video(_clip(fmt, vcodec, acodec, frames=10, audio_s=3.0), work_side=W)
    assert len(video.frames) == 10


def test_an_flv_cut_at_a_tag_boundary_is_still_truncated():
    data = _clip("flv", "flv", "aac", frames=50, audio_s=2.0)
    pos, cuts = struct.unpack(">I", data[5:9])[0] + 4, []
    while pos < len(data):  # the tag boundaries: the tag walk sees no cut there
        cuts.append(pos)
        pos += 11 + int.from_bytes(data[pos + 1:pos + 4], "big") + 4
    cut = min(cuts, key=lambda c: abs(c - 0.3 * len(data)))
    with pytest.raises(VideoRejected, match="the container declares") as e:
        decode_video(data[:cut], work_side=W)
    assert e.value.kind == "truncated"


def _video_only(fmt: str, vcodec: str, frames: int = 20) -> bytes:
    return _clip(fmt, vcodec, None, frames)


def test_bytes_after_a_whole_wmv_are_no_cut():
    """The ASF walk read 128 bytes appended to a whole WMV as an object '755828109848995896 bytes'
    long and quarantined the file truncated; the bytes it declares are all there."""
    data = _video_only("asf", "wmv2") + np.random.default_rng(0).integers(0, 256, 128, dtype=np.uint8).tobytes()
    assert len(decode_video(data, work_side=W).frames) == 20
    with pytest.raises(VideoRejected, match="before the end its header declares"):  # a cut is still one
        decode_video(data[: len(data) // 2], work_side=W)


def test_bytes_after_a_whole_flv_are_no_cut():
    """The FLV tag walk took any byte whose low 5 bits say audio, video or script data for a tag: of
    2,000 random 128-byte tails after a whole clip, 170 made it 'truncated'. A tag's reserved bits and
    StreamID are 0; where they are not, no tag begins."""
    from preprocess.video.containers import flv_truncation

    data, rng = _video_only("flv", "flv"), np.random.default_rng(1)
    assert not any(flv_truncation(data + rng.integers(0, 256, 128, dtype=np.uint8).tobytes()) for _ in range(300))
    pos, boundaries = struct.unpack(">I", data[5:9])[0] + 4, set()
    while pos < len(data):
        boundaries.add(pos)
        pos += 11 + int.from_bytes(data[pos + 1:pos + 4], "big") + 4
    inside = [k for k in range(14, len(data)) if k not in boundaries]
    assert all(flv_truncation(data[:k]) for k in inside[-300:])  # a cut inside a tag is still one
