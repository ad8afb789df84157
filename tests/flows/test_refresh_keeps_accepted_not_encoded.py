"""A sample lumina curate accepted keeps its place when a refresh curates it again (not encoded yet)
beside a new near copy: a.png without a caption (quarantined) and b.png with one, the same picture;
after a.txt was added, the refresh rejected the unchanged, accepted b as a near duplicate of a (the
first by name), and sample_status_changes had no row of it (helper D's walkthrough)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from flows.refresh import refresh_source
from flows.steps import curate_step
from preprocess.curate import CurateConfig
from preprocess.encode import EncodeConfig


def _statuses(home) -> dict[str, tuple[str, str | None]]:
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        rows = cat.sql("SELECT source_uri, status, reason FROM samples WHERE status NOT IN ('removed', 'superseded')")[1]
    return {uri.rsplit("/", 1)[-1]: (status, reason) for uri, status, reason in rows}


def test_the_accepted_sample_stays_and_the_new_near_copy_is_rejected(tmp_path):
    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    picture = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8).repeat(2, 0).repeat(2, 1)
    for name in ("a.png", "b.png"):
        Image.fromarray(picture).save(src / name)
    (src / "b.txt").write_text("a noisy square")
    cfg = CurateConfig(modality="image", options={"vae_factor": 1})
    curate_step(str(src), str(home), cfg, backend="local")
    assert _statuses(home)["b.png"] == ("accepted", None) and _statuses(home)["a.png"][0] == "quarantined"
    (src / "a.txt").write_text("the same noisy square")
    refresh_source(str(src), home, cfg, encode_cfg=EncodeConfig(text="phone"), backend="local")
    rows = _statuses(home)
    assert rows["b.png"] == ("accepted", None), rows
    assert rows["a.png"][0] == "rejected" and rows["a.png"][1].startswith("phash_dedup: near duplicate of"), rows
