"""Structure checks of containers.py on files FFmpeg writes as users get them (helper N, session 52):
a WMV written to a pipe (broadcast: its Data object declares its own header's size alone) is whole,
and a VCD program stream cut after its first sector of zero padding is cut."""

from __future__ import annotations

import io

import numpy as np
import pytest

av = pytest.importorskip("av")

from preprocess.video.containers import asf_truncation, ps_truncation  # noqa: E402


class _Pipe:
    """A write-only output with no seek, as a pipe is to FFmpeg."""

    def __init__(self):
        self.data = bytearray()

    def write(self, chunk):
        self.data += chunk
        return len(chunk)


def _clip(target, fmt: str, codec: str, frames: int = 12, audio: str | None = None) -> None:
    with av.open(target, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        sound = out.add_stream(audio, rate=44100, layout="stereo") if audio else None
        for i in range(frames):
            picture = np.full((48, 64, 3), (i * 20) % 256, np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        out.mux(stream.encode())
        if sound:
            size = sound.codec_context.frame_size
            for k in range(frames * 44100 // 25 // size):
                samples = av.AudioFrame.from_ndarray(np.zeros((2, size), np.int16), format="s16p", layout="stereo")
                samples.sample_rate, samples.pts = 44100, k * size
                out.mux(sound.encode(samples))
            out.mux(sound.encode())


def test_a_wmv_written_to_a_pipe_is_whole():
    pipe = _Pipe()
    _clip(pipe, "asf", "wmv2")
    assert asf_truncation(bytes(pipe.data)) is None


def test_a_wmv_written_to_a_file_and_cut_is_still_cut():
    buf = io.BytesIO()
    _clip(buf, "asf", "wmv2")
    data = buf.getvalue()
    assert asf_truncation(data) is None
    assert asf_truncation(data[: len(data) - 100]) is not None


def test_a_vcd_stream_cut_past_its_zero_padding_is_cut():
    buf = io.BytesIO()
    _clip(buf, "vcd", "mpeg1video", frames=40, audio="mp2")
    data = buf.getvalue()
    assert ps_truncation(data) is None
    first_padding = data.index(bytes(16))  # zeros FFmpeg's VCD muxer writes between packs
    packets = data.index(b"\x00\x00\x01\xe0", first_padding)  # a video packet after it
    assert ps_truncation(data[: packets + 100]) is not None


def _short_video_long_audio(fmt: str, audio: str) -> bytes:
    """10 video frames (0.4 s) and 3 s of audio: a whole file whose audio outlasts its video."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream("mpeg2video", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        sound = out.add_stream(audio, rate=44100, layout="stereo")
        for i in range(10):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, np.uint8), format="rgb24")))
        out.mux(stream.encode())
        size = sound.codec_context.frame_size
        for k in range(3 * 44100 // size):
            samples = av.AudioFrame.from_ndarray(np.zeros((2, size), np.int16), format="s16p", layout="stereo")
            samples.sample_rate, samples.pts = 44100, k * size
            out.mux(sound.encode(samples))
        out.mux(sound.encode())
    return buf.getvalue()


def test_a_program_stream_whose_audio_outlasts_its_video_is_whole():
    # FFmpeg's length of a program stream is its last timestamp's, here the audio's: no declaration
    from preprocess.video.decode import decode_video

    video = decode_video(_short_video_long_audio("mpeg", "mp2"), work_side=64)
    assert len(video.frames) == 10
