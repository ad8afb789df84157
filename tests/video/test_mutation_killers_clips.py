"""From a scene to a clip's frames (preprocess/video/clips.py): which source frames the rate normalisation
and the even sampling pick, the rate the picked frames play at, and the resize to the token budget.
Pins what the curation tests reached only through the demo corpus (bench/mutation video_curation)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from preprocess.image.resize import fit_to_budget
from preprocess.video.clips import resample, resize_frames, sample_evenly, sample_rate


def test_a_clip_at_the_source_rate_takes_every_frame_the_last_included():
    times = np.arange(16) / 8  # 2 s at 8 fps
    assert resample(times, 0.0, 2.0, 8.0).tolist() == list(range(16))


def test_a_later_scene_is_resampled_over_its_own_span():
    """A scene from 2 s to 4 s of an 8 fps file: 16 ticks from frame 16, not (end + start) x fps of them."""
    times = np.arange(48) / 8
    assert resample(times, 2.0, 4.0, 8.0).tolist() == list(range(16, 32))


def test_the_tick_count_is_the_span_times_the_rate_whatever_the_float_error():
    # 0.4 - 0.1 = 0.30000000000000004 and (0.3 x 10) = 2.9999999999999996: three ticks either way
    times = np.arange(10) / 10
    assert resample(times, 0.1, 0.4, 10.0).tolist() == [1, 2, 3]
    assert len(resample(times, 0.0, 0.3, 10.0)) == 3
    # a span one tick long is one frame, one shorter than a tick still one (never none), never two
    assert resample(times, 0.0, 0.1, 10.0).tolist() == [0]
    assert resample(times, 0.0, 0.05, 10.0).tolist() == [0]


def test_a_slower_source_gives_the_nearest_frame_to_each_tick_up_to_its_last():
    """5 fps source, 2 s, resampled to 8 fps: each tick k/8 s takes the frame nearest it (0.5 s and 1.5 s lie
    midway: the earlier frame), and the tick after the last frame's time (1.875 s > 1.8 s) the last frame."""
    times = np.arange(10) / 5
    assert resample(times, 0.0, 2.0, 8.0).tolist() == [0, 1, 1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 7, 8, 9, 9]


def test_variable_rate_frames_are_picked_by_nearness_ties_to_the_earlier():
    times = np.array([0.0, 1.0, 2.0])
    # frames at 0, 1 and 2 s; ticks every 0.5 s: 0.5 and 1.5 lie midway (the earlier frame), 2.5 after the last
    assert resample(times, 0.0, 3.0, 2.0).tolist() == [0, 0, 1, 1, 2, 2]
    picked = [int(resample(times, t, t + 0.01, 100.0)[0]) for t in (0.0, 0.4, 0.5, 0.9, 1.2, 1.5, 1.9, 2.5)]
    assert picked == [0, 0, 0, 1, 1, 1, 2, 2]


def test_a_one_frame_video_gives_frame_zero_for_every_tick():
    assert resample(np.array([0.0]), 0.0, 1.0, 8.0).tolist() == [0] * 8


def test_even_sampling_takes_the_first_and_the_last_frame():
    ticks = np.arange(16)
    assert sample_evenly(ticks, 4).tolist() == [0, 5, 10, 15]
    assert sample_evenly(ticks + 100, 3).tolist() == [100, 108, 115]
    assert sample_evenly(ticks, 16).tolist() == list(range(16))
    assert sample_evenly(np.arange(3), 8).tolist() == [0, 1, 2]


def test_the_sample_rate_is_the_picked_frames_spacing():
    eight = np.arange(32) / 8
    assert sample_rate(eight, np.array([0, 5, 10, 15])) == 1.6
    assert sample_rate(eight, np.array([16, 21, 26, 31])) == 1.6  # a later clip: its own first frame
    assert sample_rate(eight, np.array([3, 4])) == 8.0  # two frames: their spacing
    assert sample_rate(eight, np.array([0, 1, 2, 30])) == 0.8  # the first and the last picked frame, not the second
    assert sample_rate(eight, np.array([0, 29, 30])) == 0.5333  # rounded to 4 places
    assert sample_rate(np.array([0.0, 0.7, 1.4]), np.array([0, 1, 2])) == 1.4286
    assert sample_rate(eight, np.array([7])) == 0.0  # one frame: no rate
    assert sample_rate(np.array([0.0, 0.0, 0.5]), np.array([0, 1])) == 0.0  # two frames at one time: no rate
    assert sample_rate(np.array([0.0, 0.5, 1.0]), np.array([0, 1])) == 2.0  # a span under a second


@pytest.mark.parametrize("w, h", [(50, 37), (37, 50)])
@pytest.mark.parametrize("grey", [False, True])
def test_a_frame_is_fitted_and_centre_cropped_as_an_image_of_its_size(w, h, grey):
    """50x37 in 16 tokens of 4 px: resized to 19x14, centre-cropped to 16x12 (margins 3 and 2); the
    image modality's fit_to_budget gives the same pixels, and grey frames keep one channel."""
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (2, h, w, 3), dtype=np.uint8)
    out = resize_frames(frames, 16, 4, grey)
    want = np.stack([np.asarray(fit_to_budget(Image.fromarray(f).convert("L") if grey else Image.fromarray(f), 16, 4))
                     for f in frames])
    if grey:
        want = want[..., None]
    assert out.shape == ((2, 12, 16, 1 if grey else 3) if w > h else (2, 16, 12, 1 if grey else 3))
    assert out.dtype == np.uint8 and np.array_equal(out, want)


def test_a_grey_frame_is_its_luma_and_a_frame_of_the_budget_size_is_kept_as_it_is():
    f = np.zeros((1, 16, 16, 3), np.uint8)
    f[0, :, :8] = (255, 0, 0)
    f[0, :, 8:] = (0, 0, 255)
    out = resize_frames(f, 16, 4, True)
    assert out.shape == (1, 16, 16, 1)
    assert set(np.unique(out[0, :, :8])) == {76} and set(np.unique(out[0, :, 8:])) == {29}  # ITU-R 601-2 luma
    assert np.array_equal(resize_frames(f, 16, 4, False), f)
