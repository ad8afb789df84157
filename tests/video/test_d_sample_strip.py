"""`lumina sample --frames 500` on a video checkpoint wrote a frame strip PNG of all 500 frames side by
side: 68,000 px wide at 32 px frames, which viewers refuse or shrink to a line (helper D, session 48).
The strip now shows every k-th frame, at most STRIP_MAX_FRAMES cells and STRIP_MAX_WIDTH px, and says
so in a line and in the PNG's text chunk ``frames``."""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image

from evaluation.video.render import STRIP_MAX_FRAMES, STRIP_MAX_WIDTH, save_samples, save_strip, strip_frames


def _numbered(t: int, side: int = 8) -> np.ndarray:
    """[T, side, side, 3] uint8 whose frame i is filled with the value i % 256: a cell tells its frame."""
    return np.broadcast_to((np.arange(t) % 256).astype(np.uint8)[:, None, None, None], (t, side, side, 3)).copy()


def test_a_500_frame_strip_shows_every_16th_frame_and_says_so(tmp_path, caplog):
    clip = _numbered(500)
    with caplog.at_level(logging.WARNING, logger="evaluation.video.render"):
        path = save_strip([clip], tmp_path / "clip.mp4.frames.png")
    img = Image.open(path)
    k = 8  # auto_scale of 8 px frames
    assert img.size == (32 * 10 * k, 10 * k)  # 32 cells of (8 + 2) px, 8x: 2,560 px (was 40,000)
    shown = list(range(0, 500, 16))
    assert img.text["frames"] == " ".join(map(str, shown))
    px = np.asarray(img)
    assert [int(px[5 * k, (j * 10 + 5) * k, 0]) for j in range(32)] == [i % 256 for i in shown]  # the cells are those frames
    said = [r.getMessage() for r in caplog.records]
    assert said == ["clip.mp4.frames.png shows every 16th of the clip's 500 frames: 32 of them (frames 0, 16, 32, ..., 496)"]

    caplog.clear()  # a short clip keeps every frame, without a line
    with caplog.at_level(logging.WARNING, logger="evaluation.video.render"):
        paths = save_samples([np.zeros((3, 4, 8, 8), np.float32)], tmp_path / "short.gif", fps=8)
    img = Image.open(paths[-1])
    assert img.size == (4 * 10 * 8, 10 * 8) and "frames" not in img.text and not caplog.records


def test_the_strip_fits_its_width_cap_at_large_frames():
    assert list(strip_frames(STRIP_MAX_FRAMES, 100)) == list(range(STRIP_MAX_FRAMES))  # at the cap: all
    assert list(strip_frames(STRIP_MAX_FRAMES + 1, 100)) == list(range(0, STRIP_MAX_FRAMES + 1, 2))
    shown = strip_frames(40, 258)  # 256 px frames at 1x: 31 cells fit in 8,192 px
    assert list(shown) == list(range(0, 40, 2)) and len(shown) * 258 <= STRIP_MAX_WIDTH
    assert len(strip_frames(10, 20_000)) == 2  # never a strip of one frame
