"""A team's own clips curated again with more frames for a second stage of longer clips (a walkthrough,
2026-12-06: 36 clips of 1.5-4 s at 8 fps, `--set options.frames=16` after a stage at the default 8).
The motion score was measured between the picked frames, so twice as many picked frames halved it:
5 clips accepted at 8 frames were rejected `static` at 16 (motion 0.0028-0.0039 against 0.004).
It is now measured on 8 frames taken evenly over the clip whatever `frames` is."""

from __future__ import annotations

import numpy as np


def _analyse(path, frames: int):
    from preprocess.modality import get_plugin
    from preprocess.sources import Entry, RawInput

    plugin = get_plugin("video")
    entry = Entry(path.name, str(path), path.stat().st_size, ("file", str(path)))
    opts = plugin.options({"fps": 8, "frames": frames, "vae_factor": 1, "quality": False})
    (cand,) = plugin.analyse(RawInput(path.name, str(path), {"media": entry}), "a green bar moving left", "0" * 32, opts)
    return cand


def test_a_slow_clip_is_judged_alike_at_8_and_16_frames(tmp_path):
    from preprocess.video.demo_corpus import write_video

    # 4 s at 8 fps, 64x48: a dim 8x8 square that rises 24 px over the clip, on a faintly striped
    # ground (the walkthrough's clip_034, whose motion read 0.0028 at 16 frames)
    n, h, w = 32, 48, 64
    frames = np.full((n, h, w), 20, np.uint8)
    frames[:, ::4] = 30
    for t in range(n):
        y = 32 - (t * 24) // n
        frames[t, y:y + 8, 28:36] = 100
    path = tmp_path / "slow.mp4"
    write_video(path, frames, fps=8)
    at8, at16 = _analyse(path, 8), _analyse(path, 16)
    assert (at8.record.frames, at16.record.frames) == (8, 16)
    motion = {c.record.frames: next(v for v in c.verdicts if v.filter == "motion") for c in (at8, at16)}
    assert motion[8].passed, motion[8]  # a moving bar, at the default
    assert motion[16].score == motion[8].score and motion[16].passed, motion  # the same clip, the same verdict
    assert at16.record.status == at8.record.status == "accepted", (at8.record.reason, at16.record.reason)
