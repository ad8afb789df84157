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


CFG = CurateConfig(modality="image", options={"vae_factor": 1})


def _curated_pair(tmp_path):
    """a.png and b.png, one picture; b captioned and curated (accepted), a quarantined for lack of one."""
    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    picture = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8).repeat(2, 0).repeat(2, 1)
    for name in ("a.png", "b.png"):
        Image.fromarray(picture).save(src / name)
    (src / "b.txt").write_text("a noisy square")
    curate_step(str(src), str(home), CFG, backend="local")
    return src, home


def test_the_accepted_sample_stays_and_the_new_near_copy_is_rejected(tmp_path):
    src, home = _curated_pair(tmp_path)
    assert _statuses(home)["b.png"] == ("accepted", None) and _statuses(home)["a.png"][0] == "quarantined"
    (src / "a.txt").write_text("the same noisy square")
    refresh_source(str(src), home, CFG, encode_cfg=EncodeConfig(text="phone"), backend="local")
    rows = _statuses(home)
    assert rows["b.png"] == ("accepted", None), rows
    assert rows["a.png"][0] == "rejected" and rows["a.png"][1].startswith("phash_dedup: near duplicate of"), rows


def test_the_kept_sample_curated_again_is_judged_and_signed(tmp_path):
    """Its row in the batch the refresh writes has its phash_dedup verdict and its pHash and colour
    signature: it sat out the search before, and a batch written anew (its earlier shard gone) had neither."""
    import json

    src, home = _curated_pair(tmp_path)
    for old in (home / "curated" / "image").glob("curated-*"):  # the refresh writes b's shard and batch anew
        old.unlink()
    (src / "a.txt").write_text("the same noisy square")
    refresh_source(str(src), home, CFG, encode_cfg=EncodeConfig(text="phone"), backend="local")
    holding_b = [b for p in (home / "curated" / "image").glob("curated-*.batch.json") for b in [json.loads(p.read_text())]
                 if any(s["source_uri"].endswith("b.png") for s in b["samples"])]
    assert holding_b
    for b in holding_b:  # whichever batch the refresh wrote or kept for it
        row = next(s for s in b["samples"] if s["source_uri"].endswith("b.png"))
        assert row["meta"].get("phash") and row["meta"].get("colour_signature"), row
        assert [v["passed"] for v in b["verdicts"] if v["key"] == row["key"] and v["filter"] == "phash_dedup"] == [True]
