"""Of near-duplicate clips the better copy is kept, whatever the names (helper D, session 48).

Version 1 of keyframe_dedup kept the first clip by source name, so a downscaled, shortened, lower
frame-rate or more lossy re-encode named before its original ("a_copy.mp4" beside "b_original.mp4")
was kept and the original rejected as its near duplicate. Image and speech keep the better copy
(preprocess/image/preference.py, preprocess/speech/dedup.preference); video now does too
(preprocess/video/dedup.preference): native resolution, the clip's span of source frames, source fps,
a lossless codec, the video bitrate, then the name."""

from __future__ import annotations

import numpy as np
import pytest

from tests.video.pans import slow_pan, write_clip as _write


@pytest.fixture(scope="module")
def original():
    """16 frames at 8 fps, 64x64: a slow pan (1 px every 4 frames) over scikit-image's astronaut."""
    from skimage import data

    return slow_pan(data.astronaut())


def _curate(paths):
    from preprocess.modality import get_plugin
    from preprocess.sources import Entry, RawInput

    plugin = get_plugin("video")
    opts = plugin.options({"frames": 4, "grey": True, "max_tokens": 64, "vae_factor": 1, "patch_size": 4, "quality": False})
    cands = []
    for i, p in enumerate(paths):
        entry = Entry(p.name, str(p), p.stat().st_size, ("file", str(p)))
        cands += plugin.analyse(RawInput(p.name, str(p), {"media": entry}), "a 3 moving right", f"{i:032x}", opts)
    assert all(c.accepted for c in cands), [c.record.reason for c in cands]
    plugin.near_duplicates(cands, opts)
    return cands


COPIES = {  # name -> (frames, write options) of a worse copy of the original
    "downscaled": (lambda f: f.reshape(len(f), 32, 2, 32, 2, 3).mean((2, 4)).round().astype(np.uint8), {}),
    "shorter": (lambda f: f[:14], {}),
    "lower_fps": (lambda f: f[::2], {"fps": 4}),
    "lossier": (lambda f: f, {"crf": 32}),
}


@pytest.mark.parametrize("kind", list(COPIES))
def test_the_original_is_kept_over_a_worse_copy_named_before_it(tmp_path, original, kind):
    cut, kw = COPIES[kind]
    _write(tmp_path / "a_copy.mp4", cut(original), **kw)
    _write(tmp_path / "b_original.mp4", original)
    copy, orig = _curate([tmp_path / "a_copy.mp4", tmp_path / "b_original.mp4"])
    assert orig.accepted, (kind, orig.record.reason)
    assert copy.record.status == "rejected" and copy.record.meta["near_duplicate_of"] == orig.record.key, (kind, copy.record.reason)
    assert copy.record.reason.startswith(f"keyframe_dedup: near duplicate of {orig.record.key}")


def test_a_lossless_copy_is_kept_over_a_lossy_one_of_the_same_size_and_length(tmp_path, original):
    _write(tmp_path / "a_lossy.mp4", original)
    _write(tmp_path / "b_lossless.mkv", original, codec="ffv1")
    lossy, lossless = _curate([tmp_path / "a_lossy.mp4", tmp_path / "b_lossless.mkv"])
    assert lossless.record.meta["lossless"] and not lossy.record.meta["lossless"]
    assert lossless.accepted and lossy.record.meta["near_duplicate_of"] == lossless.record.key


def test_equal_copies_keep_the_first_name_whatever_the_input_order(tmp_path, original):
    _write(tmp_path / "a.mp4", original)
    _write(tmp_path / "b.mp4", original)  # the same bytes (curate calls it exact_duplicate first; here the tie-break)
    for order in ([tmp_path / "a.mp4", tmp_path / "b.mp4"], [tmp_path / "b.mp4", tmp_path / "a.mp4"]):
        cands = {c.source.name: c for c in _curate(order)}
        assert cands["a.mp4"].accepted and cands["b.mp4"].record.status == "rejected"


def test_original_size_is_the_source_resolution_not_the_analysis_size(tmp_path, original):
    """Frames are decoded at most work_side (256) across; meta original_size (and the size a rejected
    row records) is the file's own, which the preference ranks on: a 512x512 and a 256x256 copy both
    decode to 256x256."""
    from preprocess.video.decode import decode_video

    big = np.repeat(np.repeat(original, 8, 1), 8, 2)  # 512x512
    _write(tmp_path / "big.mp4", big[:4])
    video = decode_video((tmp_path / "big.mp4").read_bytes(), work_side=256)
    assert video.size == (256, 256) and video.native_size == (512, 512)
    assert video.stream_bytes and 0 < video.stream_bytes < (tmp_path / "big.mp4").stat().st_size
