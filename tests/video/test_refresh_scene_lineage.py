"""A re-curated clip of two scenes: its old samples are superseded by its new accepted scene, not by
a rejected one. The refresh named as superseder the first new key in sorting order, whatever its
status: after a caption edit of a clip whose moving shot is accepted and whose still shot is
rejected `static`, both old samples read `superseded: by <the static scene>` (helper B's walkthrough)."""

from __future__ import annotations

import numpy as np

from tests.video.pans import write_clip

OPTIONS = {"frames": 4, "grey": True, "max_tokens": 64, "vae_factor": 1, "patch_size": 4, "quality": False}


def _two_scenes() -> np.ndarray:
    """16 frames of a slow pan, a hard cut, then 16 frames of another picture standing still."""
    from PIL import Image
    from skimage import data

    from tests.video.pans import slow_pan

    still = np.asarray(Image.fromarray(data.coffee()).resize((64, 64)).convert("RGB"))
    return np.concatenate([slow_pan(data.astronaut()), np.repeat(still[None], 16, 0)])


def _samples(home) -> list[tuple]:
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        return cat.sql("SELECT key, status, reason FROM samples ORDER BY key")[1]


def test_old_scenes_are_superseded_by_the_new_accepted_scene(tmp_path):
    from flows.refresh import refresh_source
    from preprocess.curate import CurateConfig
    from preprocess.encode import EncodeConfig

    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    write_clip(src / "clip.mp4", _two_scenes())
    cfg = CurateConfig(modality="video", options=OPTIONS)

    def refresh():
        refresh_source(str(src), home, cfg, encode_cfg=EncodeConfig(text="phone"), backend="local")

    # the edit gives the still shot a key that sorts before the pan's (what the old code named)
    for caption in ("a pan over a face, then a cup", "pan, then cup"):
        (src / "clip.txt").write_text(caption)
        refresh()
    rows = _samples(home)
    status = {key: s for key, s, _ in rows}
    current = [(k, s, r) for k, s, r in rows if s in ("accepted", "rejected")]
    assert sorted(s for _, s, _ in current) == ["accepted", "rejected"], rows  # the new pan and the new still shot
    new_accepted = {k for k, s, r in current if s == "accepted"}
    superseded = [r for _, s, r in rows if s == "superseded"]
    assert len(superseded) == 2, rows  # both old scenes
    for reason in superseded:
        by = reason.removeprefix("superseded: by ").split(",")[0]
        assert status.get(by) == "accepted" and by in new_accepted, (reason, rows)
