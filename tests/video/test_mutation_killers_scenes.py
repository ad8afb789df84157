"""Scene cuts (preprocess/video/scenes.py): the luma and its 8 x 8 thumbnail, the content score, and the
adaptive rule that places a cut (the floor, the ratio to the neighbours' mean, the neighbourhood, the
shortest scene). Pins where a cut lands on hand-made score sequences (bench/mutation video_curation)."""

from __future__ import annotations

import numpy as np
import pytest

from preprocess.video.scenes import content_scores, luma, scene_cuts, scenes, thumbnails


def test_luma_weights_each_channel_by_bt601_in_unit_range():
    px = np.array([[[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [51, 102, 0]]]], np.uint8)
    y = luma(px)
    assert y.dtype == np.float32 and y.shape == (1, 1, 5)  # float32: a whole decoded video passes through it
    assert y[0, 0].tolist() == pytest.approx([0.299, 0.587, 0.114, 1.0, 0.2 * 0.299 + 0.4 * 0.587], abs=1e-6)


@pytest.mark.parametrize("h, w, blocks", [(12, 36, (1.5, 4.5)), (36, 12, (4.5, 1.5)), (8, 20, (1, 2.5)), (20, 8, (2.5, 1)),
                                          (32, 32, (4, 4))])
def test_a_frame_of_at_least_8_px_a_side_becomes_8_x_8_area_means_of_the_whole_frame(h, w, blocks):
    """Cells of h/8 x w/8 px; a pixel across two cells counts in each by its share (before helper D's
    fix, session 48, each side was cropped to a multiple of 8 and the rest of the frame was not seen)."""
    rng = np.random.default_rng(h * 100 + w)
    frames = rng.integers(0, 256, (2, h, w, 3), dtype=np.uint8)
    t = thumbnails(frames)
    assert t.shape == (2, 8, 8)
    bh, bw = blocks

    def share(i, cell, size):  # of pixel i in the span [cell * size, (cell + 1) * size)
        return max(0.0, min(i + 1, (cell + 1) * size) - max(i, cell * size))

    y = luma(frames).astype(np.float64)
    want = np.array([[[sum(share(i, r, bh) * share(j, c, bw) * y[n, i, j] for i in range(h) for j in range(w)) / (bh * bw)
                       for c in range(8)] for r in range(8)] for n in range(2)])
    assert np.allclose(t, want, atol=1e-5)


def test_a_change_anywhere_across_a_frame_thinner_than_8_px_counts():
    """A 4 x 20 strip: fewer rows than cells, so each row is a cell; a change in its last 4 columns is a change."""
    frames = np.zeros((2, 4, 20, 3), np.uint8)
    frames[1, :, 16:] = 255
    t = thumbnails(frames)
    assert t.shape == (2, 4, 8)  # (before helper D's fix, session 48: 10 cells of 2 columns)
    assert t[1, :, 7].tolist() == [1.0] * 4 and t[1, :, 6].tolist() == pytest.approx([0.6] * 4)  # 1.5 of its 2.5 columns
    assert content_scores(frames).tolist() == pytest.approx([0.0, 0.2])  # 4 of 20 columns went white


def test_content_score_is_zero_first_then_the_mean_thumbnail_change():
    frames = np.zeros((3, 32, 32, 3), np.uint8)
    frames[1, :16] = 255  # the top half turns white: half the cells change by 1
    frames[2] = frames[1]
    s = content_scores(frames)
    assert s.dtype == np.float64 and len(s) == 3
    assert s.tolist() == pytest.approx([0.0, 0.5, 0.0])


def test_a_cut_needs_the_floor_and_three_times_its_neighbours_mean_both_inclusive():
    # exactly at the floor (0.04 >= 0.04) and above 3 x 0.01: a cut
    assert scene_cuts(np.array([0, .01, .01, .01, .04, .01, .01, .01]), 0.04, 3.0) == [4]
    # exactly 3 x the mean of the two frames either side (binary fractions: no rounding): a cut
    s = np.array([0, 3, 3, 3, 6, 0, 2, 8, 8, 8, 8]) / 64  # neighbours of 4: 3, 3, 0, 2 -> mean 2/64, x 3 = 6/64
    assert scene_cuts(s, 0.04, 3.0) == [4]
    # the same with a neighbour of 4 raised a little: no cut
    s2 = s.copy()
    s2[6] = 2.5 / 64
    assert scene_cuts(s2, 0.04, 3.0) == []


def test_the_neighbourhood_is_two_frames_either_side_never_frame_zero():
    # a big change in frame 1 (a first black frame) raises frame 3's neighbourhood: 0.3 < 3 x (0.4 + 0.01 x 3) / 4
    assert scene_cuts(np.array([0, .4, .01, .3, .01, .01, .01, .01]), 0.04, 3.0) == []
    # frame 0's score is no neighbour: a cut at 2 compares with frames 1, 3 and 4 only
    assert scene_cuts(np.array([0, .01, .2, .01, .01, .01, .01]), 0.04, 3.0) == [2]


def test_two_cuts_three_frames_apart_are_both_found():
    """Frame 9's change lies three frames from frame 6: outside its two-frame neighbourhood, so 6 is a cut too."""
    s = np.full(14, 0.01)
    s[0], s[6], s[9] = 0.0, 0.2, 0.4
    assert scene_cuts(s, 0.04, 3.0) == [6, 9]


def test_scenes_of_two_frames_are_kept_one_frame_scenes_are_not():
    s = np.full(10, 0.01)
    s[0], s[4], s[6] = 0.0, 0.5, 0.5
    assert scene_cuts(s, 0.04, 3.0) == [4, 6]  # frames 4 and 5: a scene of two
    s = np.full(10, 0.01)
    s[0], s[4], s[5] = 0.0, 0.5, 0.5
    assert scene_cuts(s, 0.04, 3.0) == [4]  # 5 would leave frame 4 alone
    s = np.full(14, 0.01)
    s[0], s[3], s[6], s[8] = 0.0, 0.5, 0.5, 0.5
    assert scene_cuts(s, 0.04, 3.0) == [3, 6, 8]  # each against the last cut, not the one before


def test_window_zero_leaves_the_floor_alone_to_decide():
    s = np.array([0, .01, .05, .03, .05, .05, .01, .01])
    assert scene_cuts(s, 0.04, 3.0, window=0) == [2, 4]  # 5 is one frame after 4: dropped


def test_scenes_are_the_spans_between_cuts():
    assert scenes(10, [4, 6]) == [(0, 4), (4, 6), (6, 10)]
    assert scenes(10, []) == [(0, 10)]
    assert scenes(0, []) == []  # no frames: no scene
