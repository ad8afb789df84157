"""Edge cases of a video file's frames: one-frame scenes at either end are not split off, and a
file of one frame is a still image whatever its container."""

from __future__ import annotations

import numpy as np
import pytest

from preprocess.video.scenes import content_scores, scene_cuts


def _moving(n: int, side: int = 32) -> np.ndarray:
    """[n, side, side, 3] dark frames with a bright block moving right a pixel a frame."""
    f = np.full((n, side, side, 3), 40, np.uint8)
    for i in range(n):
        x = i % (side - 8)
        f[i, 8:16, x:x + 8] = 220
    return f


def _analyse(path, **options):
    from preprocess.modality import get_plugin
    from preprocess.sources import Entry, RawInput

    plugin = get_plugin("video")
    entry = Entry(path.name, str(path), path.stat().st_size, ("file", str(path)))
    item = RawInput(path.name, str(path), {"media": entry})
    opts = plugin.options({"fps": 8, "frames": 4, "max_tokens": 16, "patch_size": 4, "vae_factor": 1, **options})
    return plugin.analyse(item, "a block", "0" * 32, opts)


def _mp4(path, frames, fps=8):
    from preprocess.video.demo_corpus import write_video

    write_video(path, frames[..., 1], fps=fps, fmt="mp4")  # grey: write_video takes [N, H, W]
    return path


def test_no_cut_leaves_a_one_frame_scene_at_either_end():
    scores = np.array([0.0, 0.5, 0.01, 0.01, 0.01, 0.01, 0.01, 0.5])
    assert scene_cuts(scores, 0.04, 3.0) == []  # a cut at 1 or 7 would leave one frame alone
    assert scene_cuts(np.array([0.0, 0.5]), 0.04, 3.0) == []  # two frames: nothing to compare with
    assert scene_cuts(np.array([0.0, 0.01, 0.01, 0.5, 0.01, 0.01]), 0.04, 3.0) == [3]  # a real cut stays


def test_a_two_frame_file_is_one_row(tmp_path):
    frames = _moving(2)
    frames[1] = 255 - frames[1]  # as different as frames get
    assert content_scores(frames)[1] >= 0.04
    cands = _analyse(_mp4(tmp_path / "two.mp4", frames))
    assert len(cands) == 1, [c.record.reason for c in cands]
    assert cands[0].record.status == "rejected" and cands[0].record.reason.startswith("clip_too_short: "), cands[0].record.reason


def test_a_black_first_frame_stays_with_its_clip(tmp_path):
    frames = _moving(16)
    frames[0] = 0  # a fade-in from black
    cands = _analyse(_mp4(tmp_path / "black_first.mp4", frames))
    assert [c.record.status for c in cands] == ["accepted"], [c.record.reason for c in cands]
    assert cands[0].record.meta["clip_start"] == 0.0 and cands[0].record.duration == pytest.approx(2.0)


@pytest.mark.parametrize("fmt", ["gif", "mp4"])
def test_a_one_frame_video_is_a_still_image_as_a_one_frame_png_is(tmp_path, fmt):
    import io

    from PIL import Image

    from preprocess.video.decode import VideoRejected, decode_video

    if fmt == "gif":  # as most tools write a still GIF
        buf = io.BytesIO()
        Image.fromarray(_moving(1)[0]).save(buf, format="GIF")
        data = buf.getvalue()
    else:
        data = _mp4(tmp_path / "one.mp4", _moving(1)).read_bytes()
    with pytest.raises(VideoRejected) as e:
        decode_video(data)
    r = e.value
    assert r.kind == "still_image" and r.status == "rejected" and r.detail.endswith("(curate it as image)"), r
    assert (r.score, r.threshold) == (1.0, 2.0)
    if fmt == "gif":
        assert str(r) == "still_image: 1 frame of GIF (curate it as image)"
        (tmp_path / "one.gif").write_bytes(data)
        cands = _analyse(tmp_path / "one.gif")  # one row, not clip_too_short
        assert [(c.record.status, c.record.reason) for c in cands] == [("rejected", str(r))]
