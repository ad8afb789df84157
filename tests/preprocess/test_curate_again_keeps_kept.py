"""Curating a folder again after a near copy joined it: the sample an earlier run kept stays kept
and the new copy is the near duplicate. Before, both competed afresh and a copy whose name sorts
first (a.png beside b.png, the same pixels) rejected b.png's accepted sample, as refresh did before
35afdb7."""

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
