"""A frame only a grid unit or two across kept its aspect ratio nowhere: the image rule's crop to
whole units took a 33x31 clip to 32x16 (15 of 31 rows cut, aspect 1.06 -> 2.0) and it was accepted
so. Where that crop changes the aspect ratio by more than MAX_ASPECT_CHANGE, the grid size next to
the frame's own with the nearest aspect is taken (33x31 -> 32x32); elsewhere the image rule stands."""

from __future__ import annotations

import fractions

import numpy as np
import pytest

from preprocess.image.resize import fit_size
from preprocess.video.clips import resize_frames


def aspect_change(w, h, cw, ch) -> float:  # (as clips.aspect_change; here so the tests run on a tree without it)
    return max((w / h) / (cw / ch), (cw / ch) / (w / h))


def test_a_33x31_frame_keeps_its_aspect_ratio_and_all_its_rows():
    frames = np.full((2, 31, 33, 3), 100, np.uint8)
    frames[:, :3], frames[:, -3:] = 250, 10  # a bright top band, a dark bottom band
    out = resize_frames(frames, 256, 16, grey=False)
    assert out.shape == (2, 32, 32, 3)
    assert out[:, 0].mean() > 200 and out[:, -1].mean() < 50  # neither band was cropped away
    assert aspect_change(33, 31, 32, 32) < 1.07


@pytest.mark.parametrize("w, h, crop", [(33, 31, (32, 32)), (31, 33, (32, 32)), (20, 9, (32, 16)), (47, 33, (48, 32))])
def test_a_frame_too_small_for_the_crop_gets_the_grid_size_nearest_its_aspect(w, h, crop):
    from preprocess.image.resize import MAX_ASPECT_CHANGE, grid_size

    (rw, rh), got = grid_size(w, h, 256, 16)
    assert got == crop and rw >= got[0] and rh >= got[1]  # scaled to cover the grid size, then cropped
    assert aspect_change(w, h, *got) <= MAX_ASPECT_CHANGE
    assert aspect_change(w, h, *got) < aspect_change(w, h, *fit_size(w, h, 256, 16)[1])


@pytest.mark.parametrize("max_tokens, unit", [(256, 16), (1024, 16), (64, 16), (4, 16), (256, 2)])
def test_the_budget_and_the_image_rule_hold_wherever_its_crop_keeps_the_aspect(max_tokens, unit):
    from preprocess.image.resize import MAX_ASPECT_CHANGE, grid_size

    for w in range(9, 400, 7):
        for h in range(9, 400, 11):
            image_rule = fit_size(w, h, max_tokens, unit)
            (rw, rh), (cw, ch) = grid_size(w, h, max_tokens, unit)
            assert cw % unit == 0 and ch % unit == 0 and (cw // unit) * (ch // unit) <= max_tokens and rw >= cw and rh >= ch
            if aspect_change(w, h, *image_rule[1]) <= MAX_ASPECT_CHANGE:
                assert ((rw, rh), (cw, ch)) == image_rule, (w, h)
            else:  # never further from the frame's aspect than the image rule
                assert aspect_change(w, h, cw, ch) <= aspect_change(w, h, *image_rule[1]) + 1e-9, (w, h)


def _odd_mp4(tmp_path) -> bytes:
    """A digit moving left on a 33x31 canvas (yuv444p H.264, as the walkthrough's odd.mp4)."""
    import av
    from sklearn.datasets import load_digits

    from preprocess.video.demo_corpus import digit_sprite, path, render

    frames = render(digit_sprite(load_digits().images[45]), path("left", 8, 16))
    frames = np.pad(frames, ((0, 0), (0, 1), (0, 1)))[:, :31, :33]
    out = tmp_path / "odd.mp4"
    with av.open(str(out), "w", format="mp4", options={"fflags": "+bitexact"}) as o:
        s = o.add_stream("libx264", rate=8)
        s.width, s.height, s.pix_fmt, s.thread_count = 33, 31, "yuv444p", 1
        for k, fr in enumerate(np.repeat(frames[..., None], 3, -1)):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(fr), format="rgb24")
            vf.pts, vf.time_base = k, fractions.Fraction(1, 8)
            o.mux(s.encode(vf))
        o.mux(s.encode(None))
    return out.read_bytes()


def test_a_33x31_clip_is_curated_at_32x32_not_32x16(tmp_path):
    from preprocess.sources import RawInput
    from preprocess.video.plugin import MEDIA, VideoOptions, VideoPlugin
    from contracts.shards import npy_load

    data = _odd_mp4(tmp_path)

    class Media:
        def read(self):
            return data
    item = RawInput("odd", "file:///odd.mp4", {"media": Media()}, None)
    plugin, opts = VideoPlugin(), VideoOptions()
    (cand,) = plugin.analyse(item, "a 3 moving left", "0123456789abcdef", opts)
    rec = cand.record
    assert (rec.width, rec.height, rec.meta["original_size"]) == (32, 32, [33, 31]), (rec.status, rec.reason)
    assert npy_load(plugin.curated_members(cand, opts)[MEDIA]).shape[1:3] == (32, 32)


def test_a_sliver_frame_keeps_the_crop_where_the_sizes_next_to_it_are_further_off():
    """Frames follow the image rule, sliver guard included: 6x118 at 64 tokens of 2 px keeps fit_size's
    4x64 crop (1.23x off the aspect), not the grid size next to it, 2x70 (1.78x off)."""
    frames = np.full((1, 118, 6, 3), 100, np.uint8)
    assert resize_frames(frames, 64, 2, grey=False).shape == (1, 64, 4, 3)
