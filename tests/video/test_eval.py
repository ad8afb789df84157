"""The video judges and renders on known clips: the trajectory rule reads the demo's directions,
captions parse, renders decode back to the frames they were given."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evaluation.video.judge import DIRECTIONS, clip_labels, direction_of
from evaluation.video.render import grid_frames, save_gif, save_samples, to_frames
from preprocess.video.demo_corpus import CANVAS, DIGIT, path, render


def _clip(direction: str, frames: int = 4) -> torch.Tensor:
    from sklearn.datasets import load_digits

    from preprocess.video.demo_corpus import digit_sprite

    grey = render(digit_sprite(load_digits().images[3]), path(direction, (CANVAS - DIGIT) // 2, frames))
    return torch.from_numpy(grey.astype(np.float32) / 127.5 - 1.0)[None]  # [1, T, H, W]


def test_captions_parse_to_digit_and_direction():
    assert clip_labels("a thick 7 moving up") == (7, DIRECTIONS.index("up"))
    assert clip_labels("a 0 moving left") == (0, 0)
    assert clip_labels("a 440 Hz tone") is None and clip_labels("a 3 standing still") is None


@pytest.mark.parametrize("frames", [4, 8])
def test_direction_from_trajectory(frames):
    clips = torch.stack([_clip(d, frames) for d in DIRECTIONS])
    assert direction_of(clips).tolist() == [0, 1, 2, 3]
    assert direction_of(clips.flip(2)).tolist() == [1, 0, 3, 2]  # played backwards, every direction flips


def test_renders_decode_back(tmp_path):
    import av

    clip = _clip("right", 6).numpy()
    paths = save_samples([clip, clip], tmp_path / "out.mp4")
    assert [p.name for p in paths] == ["out_1.mp4", "out_2.mp4", "out.mp4.frames.png"]
    with av.open(str(paths[0])) as c:
        frames = [f.to_ndarray(format="gray") for f in c.decode(video=0)]
    assert len(frames) == 6 and frames[0].shape == (128, 128)  # upscaled x4
    # the digit travels right: its ink's column centre grows frame by frame
    cx = [(f.astype(float) * np.arange(f.shape[1])).sum() / f.sum() for f in frames]
    assert all(b > a for a, b in zip(cx, cx[1:]))
    gif = save_gif(grid_frames([to_frames(clip)] * 3, cols=2), tmp_path / "g.gif")
    from PIL import Image

    img = Image.open(gif)
    assert img.n_frames == 6 and img.size == (2 * (CANVAS + 2) * 4, 2 * (CANVAS + 2) * 4)


def test_an_mp4_and_a_gif_of_the_same_name_keep_their_own_frame_strips(tmp_path):
    """`--out x.mp4` then `--out x.gif` both wrote x_frames.png: the second overwrote the first's strip."""
    from PIL import Image

    right, left = _clip("right", 4).numpy(), _clip("left", 6).numpy()
    mp4 = save_samples([right], tmp_path / "x.mp4")
    gif = save_samples([left], tmp_path / "x.gif")
    assert [p.name for p in mp4] == ["x.mp4", "x.mp4.frames.png"] and [p.name for p in gif] == ["x.gif", "x.gif.frames.png"]
    widths = {p.name: Image.open(p).size[0] for p in (mp4[-1], gif[-1])}
    assert widths["x.mp4.frames.png"] * 6 == widths["x.gif.frames.png"] * 4  # 4 frames and 6 frames: both strips still there
