"""Anamorphic video (DV, DVD, HDV: pixels that are not square, the stream's sample aspect ratio) is
decoded at the shape players show. Until session 51 the stored pixels were taken as square: a 48x48
H.264 clip with a 4:3 pixel aspect (shown 64x48) was curated as a 32x32 square instead of 36x28,
every frame squeezed to three quarters of its width."""

import io
from fractions import Fraction

import numpy as np
import pytest

from preprocess.video.decode import decode_video


def _clip(width: int, height: int, sar: Fraction | None, frames: int = 6) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        s = out.add_stream("libx264", rate=8)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        if sar is not None:
            s.codec_context.sample_aspect_ratio = sar
        for k in range(frames):
            arr = np.zeros((height, width, 3), np.uint8)
            arr[:, k * 4 : k * 4 + 8] = 255
            for p in s.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return buf.getvalue()


@pytest.mark.parametrize("sar, shown", [(Fraction(4, 3), (64, 48)), (Fraction(2, 3), (32, 48)), (None, (48, 48)), (Fraction(1, 1), (48, 48))])
def test_frames_come_out_at_the_display_aspect(sar, shown):
    video = decode_video(_clip(48, 48, sar), work_side=256)
    assert video.size == shown and video.frames.shape[1:3] == shown[::-1]
    assert video.native_size == (48, 48)  # the stored pixels, as original_size records them


def test_work_side_bounds_the_shown_long_side():
    assert decode_video(_clip(48, 48, Fraction(2, 1)), work_side=32).size == (32, 16)
