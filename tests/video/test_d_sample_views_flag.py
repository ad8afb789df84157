"""`lumina sample --views 8` on a video checkpoint made 8 frames without a word: --views is multi-view's
name for --frames, and argparse stored both in one field (helper D, session 48). The video sampler's
check_flags hook refuses another modality's name for a generic flag, naming the flag to give; it
reads SampleConfig.given_as (field -> the alias flag the command line gave it by)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


def test_views_on_a_video_checkpoint_is_refused_naming_frames():
    from evaluation.config import sampling_of

    check = sampling_of("video").check_flags
    with pytest.raises(ValueError) as e:
        check(SimpleNamespace(frames=8, given_as={"frames": "--views"}))
    assert str(e.value) == "--views is for multiview checkpoints; this one is video: give the number of frames as --frames"
    with pytest.raises(ValueError, match="^--text is for speech checkpoints; this one is video: give it as --prompt$"):
        check(SimpleNamespace(prompt="a 3 moving left", given_as={"prompt": "--text"}))
    check(SimpleNamespace(frames=8, given_as={}))  # --frames itself
    check(SimpleNamespace(frames=8))  # a cfg made without the command line
