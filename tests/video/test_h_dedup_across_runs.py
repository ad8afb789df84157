"""A near-duplicate clip of one an earlier run kept (helper H, session 48).

keyframe_dedup compared the clips of one run only: a re-encoded copy of a catalogued clip, in
another folder curated later or added to the folder and picked up by a refresh, was accepted as
a new sample. Image and multiview compared with the catalog's kept samples; video now does too,
with the keyframe hashes each kept clip stores in its meta (preprocess/video/dedup.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.video.pans import slow_pan, write_clip

OPTIONS = {"frames": 4, "grey": True, "max_tokens": 64, "vae_factor": 1, "patch_size": 4, "quality": False}


def _write(p, frames: np.ndarray, codec: str = "libx264", crf: int = 12) -> None:
    write_clip(p, frames, codec=codec, crf=crf)
    p.with_suffix(".txt").write_text(f"a slow pan, {p.stem}")


@pytest.fixture(scope="module")
def pans():
    from skimage import data

    return slow_pan(data.astronaut()), slow_pan(data.coffee())


def _rows(home) -> dict[str, tuple]:
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, rows = cat.sql("SELECT source_uri, key, status, reason, meta FROM samples")
    return {uri.rsplit("/", 2)[-2] + "/" + uri.rsplit("/", 1)[-1]: (key, status, reason, json.loads(meta)) for uri, key, status, reason, meta in rows}


@pytest.fixture()
def first_run(tmp_path, pans):
    from flows.steps import curate_step
    from preprocess.curate import CurateConfig

    one = tmp_path / "one"
    one.mkdir()
    _write(one / "original.mp4", pans[0])
    home = tmp_path / "home"
    assert curate_step(str(one), str(home), CurateConfig(modality="video", options=OPTIONS), backend="local")["counts"] == {"accepted": 1}
    return tmp_path, home, _rows(home)["one/original.mp4"][0]


def test_a_copy_in_another_folder_is_rejected_naming_the_catalogued_clip(first_run, pans):
    from flows.steps import curate_step
    from preprocess.curate import CurateConfig

    tmp_path, home, kept = first_run
    two = tmp_path / "two"
    two.mkdir()
    _write(two / "reencoded.mp4", pans[0], crf=30)  # the same frames, other bytes
    _write(two / "distinct.mp4", pans[1])
    out = curate_step(str(two), str(home), CurateConfig(modality="video", options=OPTIONS), backend="local")
    assert out["counts"] == {"accepted": 1, "rejected": 1}
    rows = _rows(home)
    _, status, reason, meta = rows["two/reencoded.mp4"]
    assert status == "rejected" and reason.startswith(f"keyframe_dedup: near duplicate of {kept}"), reason
    assert meta["near_duplicate_of"] == kept and "phash" not in meta and "colour_signature" not in meta
    assert rows["two/distinct.mp4"][1] == "accepted" and rows["one/original.mp4"][1] == "accepted"
    stored = rows["one/original.mp4"][3]  # for later runs: the middle keyframe's hash and colour (the catalog's search), all three
    assert len(stored["phash"]) == 64 and len(stored["colour_signature"]) == 96 and len(stored["keyframe_hashes"]) == 192
    assert stored["keyframe_hashes"][64:128] == stored["phash"]


def test_a_better_copy_added_before_a_refresh_is_rejected_the_catalogued_clip_stays(tmp_path, pans):
    """As image: what an earlier run kept stays kept, even when the new copy would rank first."""
    from flows.refresh import refresh_source
    from preprocess.curate import CurateConfig

    one, home, cfg = tmp_path / "one", tmp_path / "home", CurateConfig(modality="video", options=OPTIONS)
    one.mkdir()
    _write(one / "original.mp4", pans[0])
    refresh_source(str(one), home, cfg, backend="local")
    kept = _rows(home)["one/original.mp4"][0]
    _write(one / "lossless.mkv", pans[0], codec="ffv1")
    _write(one / "distinct.mp4", pans[1])
    refresh_source(str(one), home, cfg, backend="local")
    rows = _rows(home)
    _, status, reason, meta = rows["one/lossless.mkv"]
    assert meta["lossless"] and status == "rejected" and reason.startswith(f"keyframe_dedup: near duplicate of {kept}"), reason
    assert rows["one/original.mp4"][1] == "accepted" and rows["one/distinct.mp4"][1] == "accepted"


def test_a_catalog_without_stored_hashes_compares_within_the_run(first_run, pans):
    """Clips curated before the hashes were stored are not found: the run compares within itself."""
    from catalog import Catalog
    from flows.steps import curate_step
    from preprocess.curate import CurateConfig

    tmp_path, home, kept = first_run
    with Catalog.open(home / "catalog.duckdb") as cat:
        cat.sql("UPDATE samples SET meta = json_object('lossless', false)")
    two = tmp_path / "two"
    two.mkdir()
    _write(two / "reencoded.mp4", pans[0], crf=30)
    assert curate_step(str(two), str(home), CurateConfig(modality="video", options=OPTIONS), backend="local")["counts"] == {"accepted": 1}
    assert _rows(home)["two/reencoded.mp4"][1] == "accepted"
