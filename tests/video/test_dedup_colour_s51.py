"""Near-duplicate clips must match in colour as well as in their keyframes' pHashes (session 51
walkthrough). The pHash reads luminance only: a white ball and a yellow ball crossing the same
background the same way were keyframe distance 8 (threshold 10) apart, and the later clip was
rejected `keyframe_dedup` though no frame of it looks like the other's. Image and multi-view
already compare colour (a pink and an orange circle of one shape are both kept); video now does."""

from types import SimpleNamespace

import numpy as np

from contracts.records import SampleRecord
from preprocess.modality import Candidate, get_plugin
from preprocess.sources import Entry, RawInput
from preprocess.video.dedup import _Kept, mark_near_duplicates


def _ball_clip(path, colour, n=24, w=64, h=48):
    import av

    yy, xx = np.mgrid[0:h, 0:w]
    bg = np.stack([xx * 2 + 20, yy * 2 + 30, np.full_like(xx, 60)], -1).astype(np.uint8)
    with av.open(str(path), "w", format="mp4") as out:
        s = out.add_stream("libx264", rate=12)
        s.width, s.height, s.pix_fmt = w, h, "yuv444p"
        for k in range(n):
            f = bg.copy()
            f[(xx - 12) ** 2 + (yy - (10 + k)) ** 2 <= 100] = colour
            for p in s.encode(__import__("av").VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def _candidates(tmp_path, colours):
    plugin = get_plugin("video")
    opts = plugin.options({"vae_factor": 1})
    cands = []
    for i, colour in enumerate(colours):
        path = _ball_clip(tmp_path / f"clip{i}.mp4", colour)
        item = RawInput(path.name, str(path), {"media": Entry(path.name, str(path), path.stat().st_size, ("file", str(path)))})
        cands += plugin.analyse(item, "a ball", f"{i:032d}", opts)
    assert all(c.accepted for c in cands), [c.record.reason for c in cands]
    plugin.near_duplicates(cands, opts)
    return cands


def test_a_ball_of_another_colour_is_no_near_copy(tmp_path):
    white, yellow = _candidates(tmp_path, [(240, 240, 240), (230, 210, 40)])
    assert white.accepted and yellow.accepted, yellow.record.reason


def test_the_same_clip_twice_is_still_a_near_copy(tmp_path):
    first, second = _candidates(tmp_path, [(240, 240, 240), (240, 240, 240)])
    assert first.accepted != second.accepted


def _cand(colour_hex: str) -> Candidate:
    rec = SampleRecord(key="new", modality="video", source_uri="/data/new.mp4", status="accepted", meta={"colour_signature": colour_hex})
    return Candidate(rec, [], SimpleNamespace(name="new.mp4"), (1, 2, 3))


def test_a_clip_an_earlier_run_kept_is_compared_by_its_stored_colour_or_by_phash_alone_without_one():
    other_colour = _cand("ff" * 48)
    mark_near_duplicates([other_colour], 10, [_Kept(SimpleNamespace(key="old"), (1, 2, 3), "00" * 48)])
    assert other_colour.accepted
    no_stored_colour = _cand("ff" * 48)
    mark_near_duplicates([no_stored_colour], 10, [_Kept(SimpleNamespace(key="old"), (1, 2, 3), None)])
    assert no_stored_colour.record.reason == "keyframe_dedup: near duplicate of old (keyframe Hamming distance 0)"
