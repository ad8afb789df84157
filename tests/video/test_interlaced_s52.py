"""Interlaced video (a DVD's .vob/.mpg, a broadcast .ts) is made whole frames before curation: decoded as
stored, each frame held two fields half a frame apart and every moving edge came out combed (helper H,
session 52: row-to-row combing 1.24 decoded as is, 0.48 through FFmpeg's bwdif)."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from preprocess.video.decode import decode_video

FRAMES, W, H = 10, 64, 48


def _interlaced(muxer: str) -> bytes:
    """A square moving right, its odd rows half a frame later than its even ones, as MPEG-2 fields."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=muxer) as c:
        s = c.add_stream("mpeg2video", rate=25)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = {"flags": "+ildct+ilme", "top": "1"}
        for i in range(FRAMES):
            f = np.full((H, W, 3), 60, np.uint8)
            for row0, dt in ((0, 0.0), (1, 0.5)):
                x = int(6 + (i + dt) * 4)
                f[row0::2][6:18, x:x + 16] = (240, 40, 40)
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return buf.getvalue()


def _combing(frames: np.ndarray) -> float:
    x = frames.astype(np.float64)
    return float(np.abs(x[:, 1:-1] - 0.5 * (x[:, :-2] + x[:, 2:])).mean())


@pytest.mark.parametrize("muxer", ["vob", "mpegts"])
def test_interlaced_frames_are_made_whole_with_their_own_timing(muxer):
    data = _interlaced(muxer)
    video = decode_video(data, work_side=W)
    with av.open(io.BytesIO(data)) as c:
        stored = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    assert video.deinterlaced and len(video.frames) == len(stored) == FRAMES
    assert _combing(video.frames) < 0.6 * _combing(stored)
    np.testing.assert_allclose(video.times, np.arange(FRAMES) / 25, atol=1e-6)  # the decoded frames' times, not the filter's


def _progressive(top: int = 6, colour: tuple[int, int, int] = (240, 40, 40)) -> bytes:
    """FRAMES progressive MPEG-2 frames in a VOB: a square ``colour`` moving right at row ``top``."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="vob") as c:
        s = c.add_stream("mpeg2video", rate=25)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        for i in range(FRAMES):
            f = np.full((H, W, 3), 60, np.uint8)
            f[top:top + 12, 6 + 4 * i:22 + 4 * i] = colour
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return buf.getvalue()


def test_progressive_frames_pass_as_decoded():
    video = decode_video(_progressive(), work_side=W)
    assert not video.deinterlaced and len(video.frames) == FRAMES
