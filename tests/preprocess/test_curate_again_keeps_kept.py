"""Curating a folder again after a near copy joined it: the sample an earlier run kept stays kept
and the new copy is the near duplicate. Before, both competed afresh and a copy whose name sorts
first (a.png beside b.png, the same pixels) rejected b.png's accepted sample, as refresh did before
35afdb7. The kept sample still goes through the search (Candidate.kept_before orders it first): left
out of it, it lost its verdict and signature, and a second curate wrote other batch files."""

from __future__ import annotations

import numpy as np
from PIL import Image


def _photo() -> Image.Image:
    small = np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((64, 64), Image.BICUBIC)


def _curate(folder, home) -> dict:
    from flows.steps import curate_step
    from preprocess.curate import CurateConfig

    return curate_step(str(folder), str(home), CurateConfig(options={"vae_factor": 1, "max_tokens": 4096}), backend="local")


def _rows(home) -> dict[str, tuple[str, str, str | None]]:
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, rows = cat.sql("SELECT source_uri, key, status, reason FROM samples")
    return {uri.rsplit("/", 1)[-1]: (key, status, reason) for uri, key, status, reason in rows}


def test_a_new_near_copy_that_sorts_first_does_not_reject_the_kept_sample(tmp_path):
    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    _photo().save(src / "b.png")
    (src / "b.txt").write_text("the photo")
    assert _curate(src, home)["counts"] == {"accepted": 1}
    kept_key = _rows(home)["b.png"][0]
    _photo().save(src / "a.png")  # the same pixels under another caption: a near copy, not an exact one
    (src / "a.txt").write_text("the same photo, captioned again")
    assert _curate(src, home)["counts"] == {"accepted": 1, "rejected": 1}
    rows = _rows(home)
    assert rows["b.png"][1:] == ("accepted", None), rows
    assert rows["a.png"][1] == "rejected" and rows["a.png"][2].startswith(f"phash_dedup: near duplicate of {kept_key}"), rows


def test_the_kept_sample_is_judged_and_signed_as_before(tmp_path):
    """Curated again beside its new near copy, the kept sample's curated batch is the one the first
    curation wrote, byte for byte, with its phash_dedup verdict and its pHash and colour signature."""
    import json

    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    _photo().save(src / "b.png")
    (src / "b.txt").write_text("the photo")
    _curate(src, home)
    kept_key = _rows(home)["b.png"][0]
    first = {p.name: p.read_bytes() for p in (home / "curated" / "image").glob("curated-*.batch.json")}
    _photo().save(src / "a.png")
    (src / "a.txt").write_text("the same photo, captioned again")
    _curate(src, home)
    again = {p.name: p.read_bytes() for p in (home / "curated" / "image").glob("curated-*.batch.json")}
    assert again == first
    batch = json.loads(next(iter(again.values())))
    sample = next(s for s in batch["samples"] if s["key"] == kept_key)
    assert sample["meta"].get("phash") and sample["meta"].get("colour_signature")
    assert any(v["key"] == kept_key and v["filter"] == "phash_dedup" and v["passed"] for v in batch["verdicts"])
