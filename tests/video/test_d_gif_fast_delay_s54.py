"""A GIF whose frames say 1 cs (10 ms) plays at 10 cs a frame in every browser (helper D, session 54);
so does an animated PNG's or WebP's frame of 10 ms.

GIF writers put a delay of 0 or 1 cs for "as fast as you can", and Firefox, Chrome and Safari show such
a frame for 10 cs. FFmpeg kept 1 cs, so a user's 20-frame GIF that every browser plays in 2 s was
curated as 0.2 s at 100 fps and rejected `clip_too_short: min_duration 0.2 vs threshold 1`. A delay
of 2 cs and more is shown as written, by browsers and by the curation."""

from __future__ import annotations

import io

import numpy as np
import pytest

from preprocess.video.decode import decode_video
from tests.video.test_edges import _analyse, _moving


def _gif(delay_ms, n: int = 20, fmt: str = "GIF") -> bytes:
    from PIL import Image

    frames = [Image.fromarray(f) for f in _moving(n)]
    out = io.BytesIO()
    frames[0].save(out, format=fmt, save_all=True, append_images=frames[1:], duration=delay_ms, loop=0,
                   **({"lossless": True} if fmt == "WEBP" else {}))
    return out.getvalue()


@pytest.mark.parametrize("delay_ms", [0, 10])
def test_a_gif_of_0_or_1_cs_frames_lasts_10_cs_a_frame(delay_ms):
    video = decode_video(_gif(delay_ms))
    assert len(video.frames) == 20
    assert video.duration == pytest.approx(2.0) and video.fps == pytest.approx(10.0)
    assert np.allclose(np.diff(video.times), 0.1)


def test_such_a_gif_is_curated_at_its_shown_length(tmp_path):
    path = tmp_path / "fast.gif"
    path.write_bytes(_gif(10))
    (cand,) = _analyse(path)
    assert cand.record.status == "accepted", cand.record.reason
    assert cand.record.duration == pytest.approx(2.0) and cand.record.meta["source_fps"] == pytest.approx(10.0)


def test_delays_of_2_cs_and_more_are_kept_as_written():
    assert decode_video(_gif(20)).duration == pytest.approx(0.4)  # 50 fps, as browsers play it
    video = decode_video(_gif([10, 150] * 10))  # 1 cs frames shown for 10, the 15 cs ones as they are
    assert np.allclose(np.diff(video.times), [0.1, 0.15] * 9 + [0.1])
    assert video.duration == pytest.approx(2.5)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animated_png_and_webp_frames_of_10_ms_last_100_ms_as_browsers_show_them(fmt):
    """The same rule in milliseconds: 10 ms and under is shown for 100 (0 already was); 20 ms as written."""
    assert decode_video(_gif(10, fmt=fmt)).duration == pytest.approx(2.0)
    assert decode_video(_gif(0, fmt=fmt)).duration == pytest.approx(2.0)
    assert decode_video(_gif(20, fmt=fmt)).duration == pytest.approx(0.4)
