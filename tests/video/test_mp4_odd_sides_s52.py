"""An MP4 of frames with an odd side gets a copy of its last row or column (H.264 in yuv420p needs even
sides), not a black line along the bottom and right of every frame (helper H, session 52)."""

from __future__ import annotations

import av
import numpy as np

from evaluation.video.render import save_mp4


def test_an_odd_frame_is_evened_with_its_own_edge(tmp_path):
    frames = np.full((2, 5, 7, 3), 230, np.uint8)  # light grey, 7x5: written 8x6
    path = save_mp4(frames, tmp_path / "odd.mp4", fps=4, upscale=1)
    with av.open(str(path)) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert first.shape == (6, 8, 3)
    assert first[-1].min() > 200 and first[:, -1].min() > 200, (first[-1], first[:, -1])
