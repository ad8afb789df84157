"""A flash is not a scene cut (helper D, session 54). One white frame (a camera flash, lightning, a
glitch) in the middle of one continuous shot changed the picture twice, into the flash and back out,
and the adaptive rule took the first change for a cut: a user's 2 s shot became two 1 s clips, the
second opening on the white frame. A change whose picture comes back within FLASH_FRAMES frames is
no cut now (preprocess/video/scenes.py is_flash); a real cut, and an insert longer than that, still are."""

from __future__ import annotations

import numpy as np
import pytest

from preprocess.video.scenes import content_scores, scene_cuts, thumbnails
from tests.video.test_edges import _analyse, _moving, _mp4


def _statuses(cands):
    return [(c.record.status, c.record.meta.get("clip_start"), c.record.meta.get("clip_end")) for c in cands]


@pytest.mark.parametrize("flash_len", [1, 2])
def test_a_flash_in_one_shot_keeps_it_one_clip(tmp_path, flash_len):
    frames = _moving(24)
    frames[12:12 + flash_len] = 250  # the whole picture white, then the shot goes on
    cands = _analyse(_mp4(tmp_path / "flash.mp4", frames))
    assert _statuses(cands) == [("accepted", 0.0, 3.0)], [c.record.reason for c in cands]


def test_a_real_cut_is_still_two_clips(tmp_path):
    frames = _moving(24)
    frames[12:] = 255 - frames[12:]  # another picture from frame 12 on, for good
    cands = _analyse(_mp4(tmp_path / "cut.mp4", frames))
    assert _statuses(cands) == [("accepted", 0.0, 1.5), ("accepted", 1.5, 3.0)], [c.record.reason for c in cands]


def test_an_insert_longer_than_a_flash_is_cut_in_and_out():
    from preprocess.video.scenes import FLASH_FRAMES

    frames = _moving(22)  # the block wraps round after 24 frames: no change that big here
    frames[10:10 + FLASH_FRAMES + 3] = 250  # a shot of its own, then back to the first
    scores = content_scores(frames)
    assert scene_cuts(scores, 0.04, 3.0, thumbs=thumbnails(frames)) == [10, 10 + FLASH_FRAMES + 3]


def test_without_thumbnails_the_rule_is_the_scores_alone():
    frames = _moving(24)
    frames[12] = 250
    scores = content_scores(frames)
    assert scene_cuts(scores, 0.04, 3.0) == [12]  # what the plugin did before: the flash opened a scene
    assert scene_cuts(scores, 0.04, 3.0, thumbs=thumbnails(frames)) == []
