"""A stream's declared frame size cannot be trusted: a GIF whose logical screen says 65535x65535
reads in FFmpeg as 0x0 (the too_many_pixels check passed and the scale divided by zero:
'decode_error: ZeroDivisionError: division by zero'), and decoded frames larger than max_pixels
were taken whatever the header said."""

from __future__ import annotations

import numpy as np
import pytest

from preprocess.video.decode import VideoRejected, decode_video
from preprocess.video.demo_corpus import write_video
from tests.video.test_decode import _h264, _marked


def _huge_gif(tmp_path) -> bytes:
    frames = (np.random.default_rng(0).random((6, 32, 32)) * 255).astype(np.uint8)
    write_video(tmp_path / "huge.gif", frames, fmt="gif")
    gif = bytearray((tmp_path / "huge.gif").read_bytes())
    gif[6:10] = b"\xff\xff\xff\xff"  # logical screen width, height: 65535 each
    return bytes(gif)


@pytest.mark.parametrize("work_side", [None, 256])
def test_a_gif_that_declares_no_usable_frame_size_is_a_clear_decode_error(tmp_path, work_side):
    with pytest.raises(VideoRejected) as e:
        decode_video(_huge_gif(tmp_path), work_side=work_side)
    assert (e.value.kind, e.value.status) == ("decode_error", "quarantined")
    assert e.value.detail == "the video stream declares no frame size (FFmpeg reads it as 0x0)"


def test_the_curated_reason_names_the_missing_frame_size(tmp_path):
    from preprocess.video.plugin import VideoOptions, VideoPlugin
    from preprocess.sources import RawInput

    gif = _huge_gif(tmp_path)

    class Media:
        def read(self):
            return gif
    item = RawInput("huge", "file:///huge.gif", {"media": Media()}, None)
    (cand,) = VideoPlugin().analyse(item, "a clip", "0123456789abcdef", VideoOptions())
    assert (cand.record.status, cand.record.reason) == (
        "quarantined", "decode_error: the video stream declares no frame size (FFmpeg reads it as 0x0)")


def test_a_decoded_frame_over_max_pixels_is_too_many_pixels_whatever_the_header_said(tmp_path):
    """The header (and the first 8 frames) say 96x64, within max_pixels; frames 9.. are 128x96."""
    path = _h264(tmp_path / "grows.mkv", [_marked(8, 64, 96), _marked(8, 96, 128)])
    data = path.read_bytes()
    assert decode_video(data, max_pixels=96 * 128).frames.shape == (16, 64, 96, 3)
    with pytest.raises(VideoRejected) as e:
        decode_video(data, max_pixels=96 * 64)
    assert (e.value.kind, e.value.status, e.value.score, e.value.threshold) == (
        "too_many_pixels", "quarantined", 128.0 * 96, 96.0 * 64)
    assert e.value.detail == "frame 9 is 128x96 (the stream declares 96x64)"
