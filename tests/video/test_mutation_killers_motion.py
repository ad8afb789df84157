"""Motion and jitter of a clip (preprocess/video/motion.py): the motion score between consecutive frames,
the global shift from frame to frame (its sign past half the frame), and the jitter ratio that rejects
shaking clips. Exact translations (np.roll) give exact shifts (bench/mutation video_curation)."""

from __future__ import annotations

import numpy as np
import pytest

from preprocess.video.motion import displacements, global_shift, jitter_score, motion_score
from preprocess.video.plugin import VideoOptions
from preprocess.video.scenes import luma

MAX_JITTER = VideoOptions().max_jitter  # 2.0: a clip above it is rejected as `jitter`


def _picture(side: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)


def _clip(shifts: list[tuple[int, int]], side: int = 32) -> np.ndarray:
    """A textured frame, then each shift (dy, dx) applied to the frame before."""
    frames, pos = [_picture(side)], np.zeros(2, int)
    for s in shifts:
        pos += s
        frames.append(np.roll(_picture(side), tuple(pos), axis=(0, 1)))
    return np.stack(frames)


def test_motion_is_the_mean_luma_change_between_consecutive_frames():
    black, white = np.zeros((1, 8, 8, 3), np.uint8), np.full((1, 8, 8, 3), 255, np.uint8)
    assert motion_score(np.concatenate([black, white])) == pytest.approx(1.0, abs=1e-6)  # two frames
    assert motion_score(np.concatenate([black, white, white])) == pytest.approx(0.5, abs=1e-6)
    assert motion_score(white) == 0.0  # one frame: no motion


@pytest.mark.parametrize("dy, dx", [(2, 3), (-2, -3), (12, -12), (-15, 15), (16, 16), (0, -1)])
def test_the_global_shift_is_the_translation_signed_within_half_the_frame(dy, dx):
    """Shifts read in (-16, 16] on a 32 px frame: 12 stays 12 (not 12 - 32), -15 is -15 (not 17), exactly half is +16."""
    y = luma(np.stack([_picture(), np.roll(_picture(), (dy, dx), axis=(0, 1))]))
    assert global_shift(y[0], y[1]) == (float(dy), float(dx))


def test_displacements_are_one_per_pair_of_consecutive_frames():
    d = displacements(_clip([(0, 1), (0, 1), (1, 0)]))
    assert d.shape == (3, 2) and d.tolist() == [[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]]
    assert displacements(_clip([])).shape == (0, 2)


def test_steady_motion_has_jitter_one_whatever_its_direction():
    assert jitter_score(_clip([(0, 1)] * 3)) == pytest.approx(1.0)
    assert jitter_score(_clip([(1, 1)] * 3)) == pytest.approx(1.0)  # diagonal: path and net are vector lengths
    assert jitter_score(_clip([(0, 2), (0, 1), (0, 3)])) == pytest.approx(1.0)  # uneven speed, one direction


def test_shaking_back_and_forth_is_jitter_far_above_the_threshold():
    # path 8 px, net 0: 8 / 0.25 (the floor on the net displacement) = 32
    assert jitter_score(_clip([(0, 2), (0, -2), (0, 2), (0, -2)])) == 32.0
    # path 3, net 1: 3 / 1 = 3 > 2, rejected; and a net of 1 px is divided by itself, not by a larger floor
    assert jitter_score(_clip([(0, 1), (0, -1), (0, 1)])) == 3.0 > MAX_JITTER
    # one step back in five: path 5, net 3 -> 1.667, accepted
    j = jitter_score(_clip([(0, 1), (0, 1), (0, -1), (0, 1), (0, 1)]))
    assert j == pytest.approx(5 / 3) and j < MAX_JITTER


def test_a_static_clip_and_a_fade_to_black_add_no_jitter():
    still = np.stack([_picture()] * 4)
    assert jitter_score(still) == 1.0  # no translation: 1, the motion score judges it
    assert jitter_score(still[:1]) == 1.0
    fade = _clip([(0, -1), (0, -1)])
    fade = np.concatenate([fade, np.zeros((2, 32, 32, 3), np.uint8)])  # then two black frames
    assert displacements(fade).tolist() == [[0.0, -1.0], [0.0, -1.0], [0.0, 0.0], [0.0, 0.0]]
    assert jitter_score(fade) == pytest.approx(1.0)


def test_a_flat_colour_frame_between_two_pictures_is_no_shift():
    """A flash or a title card: a frame of one colour has no defined shift to or from a picture. Measured anyway,
    its correlation is rounding noise: this 13 x 13 picture and (209, 186, 40) read (-3, 1) and back (3, -1),
    jitter 25 (rejected) for a clip that never moves."""
    picture = np.random.default_rng(75).integers(0, 256, (13, 13, 3), dtype=np.uint8)
    flash = np.full((13, 13, 3), (209, 186, 40), np.uint8)
    clip = np.stack([picture, flash, picture])
    assert displacements(clip).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert jitter_score(clip) == 1.0
