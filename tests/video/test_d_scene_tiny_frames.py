"""Scene cuts on frames of 9-15 px a side (helper D, session 48): the 8 x 8 luma thumbnail cropped each
side to a multiple of 8 first, so such a frame counted only its top-left 8 x 8 pixels and a cut in its
lower or right part was missed (one clip where there are two). The thumbnail is now the exact area
means of the whole frame (preprocess/video/scenes.py)."""

from __future__ import annotations

import numpy as np
import pytest

from preprocess.video.scenes import content_scores, luma, scene_cuts, thumbnails


@pytest.mark.parametrize("h, w", [(9, 9), (13, 11), (15, 15), (10, 14)])
def test_a_change_outside_the_top_left_8x8_of_a_small_frame_is_a_cut(h, w):
    frames = np.full((12, h, w, 3), 40, np.uint8)
    frames[6:, 8:, :] = 220  # from frame 6 on, the rows below the first 8 change
    frames[6:, :, 8:] = 220  # and the columns right of the first 8
    scores = content_scores(frames)
    changed = 1 - 64 / (h * w)  # the share of the frame outside its top-left 8 x 8
    assert scores[6] == pytest.approx(changed * 180 / 255, rel=1e-5)
    assert scene_cuts(scores, 0.04, 3.0) == [6]


@pytest.mark.parametrize("h, w", [(9, 9), (13, 11), (12, 36), (36, 12), (8, 20), (20, 8), (32, 32), (4, 20), (37, 5)])
def test_the_thumbnail_is_the_area_mean_of_the_whole_frame(h, w):
    """Each pixel repeated 8 times each way makes every side a multiple of 8 cells (or of its own
    pixels, on a side under 8 px): whole-block means of that are the exact area means."""
    rng = np.random.default_rng(h * 100 + w)
    frames = rng.integers(0, 256, (2, h, w, 3), dtype=np.uint8)
    ch, cw = min(8, h), min(8, w)
    y = np.repeat(np.repeat(luma(frames), 8, 1), 8, 2)
    want = y.reshape(2, ch, 8 * h // ch, cw, 8 * w // cw).mean(axis=(2, 4))
    t = thumbnails(frames)
    assert t.shape == (2, ch, cw) and np.allclose(t, want, atol=1e-5)


def test_a_small_clip_with_a_cut_in_its_lower_right_part_becomes_two_clips(tmp_path):
    """14 x 10 px H.264 at 8 fps: a dot moves in the top-left 8 x 8 throughout; after 2 s the rest of
    the picture (2 rows below it, 6 columns right of it) turns from dark to bright: a new shot."""
    from preprocess.modality import get_plugin
    from preprocess.sources import Entry, RawInput
    from preprocess.video.demo_corpus import write_video

    frames = np.full((32, 10, 14), 40, np.uint8)
    for t in range(32):
        y = x = min(t // 4, 6)  # one pixel down and right every 4 frames
        frames[t, y:y + 2, x:x + 2] = 250
    frames[16:, 8:, :] = 200
    frames[16:, :, 8:] = 200
    path = tmp_path / "small.mp4"
    write_video(path, frames, fps=8)
    plugin = get_plugin("video")
    opts = plugin.options({"frames": 4, "vae_factor": 1, "quality": False})
    entry = Entry(path.name, str(path), path.stat().st_size, ("file", str(path)))
    cands = plugin.analyse(RawInput(path.name, str(path), {"media": entry}), "a dot", "0" * 32, opts)
    assert [(c.record.meta["clip_start"], c.record.meta["clip_end"]) for c in cands] == [(0.0, 2.0), (2.0, 4.0)]
