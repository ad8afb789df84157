"""A near duplicate of a sample an earlier run kept: it was found only when both came in the same
run, so a second folder (or a later refresh) brought it in as a new sample."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image


def _photo(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)  # smooth blobs: pHash sees structure, and re-compression keeps it
    small = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((64, 64), Image.BICUBIC)


def _curate(folder, home):
    from flows.steps import curate_step
    from preprocess.curate import CurateConfig

    return curate_step(str(folder), str(home), CurateConfig(options={"vae_factor": 1, "max_tokens": 4096}), backend="local")


def _rows(home):
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, rows = cat.sql("SELECT source_uri, status, reason, meta FROM samples ORDER BY source_uri")
    return {r[0].rsplit("/", 2)[-2] + "/" + r[0].rsplit("/", 1)[-1]: (r[1], r[2], json.loads(r[3])) for r in rows}


@pytest.fixture()
def first_run(tmp_path):
    one = tmp_path / "one"
    one.mkdir()
    for i in range(3):
        _photo(i).save(one / f"photo{i}.png")
        (one / f"photo{i}.txt").write_text(f"a photo number {i}")
    home = tmp_path / "home"
    assert _curate(one, home)["counts"] == {"accepted": 3}
    return tmp_path, home


def test_a_near_duplicate_of_a_sample_kept_by_an_earlier_run_is_rejected_naming_it(first_run):
    tmp_path, home = first_run
    kept = _rows(home)["one/photo0.png"]
    assert len(kept[2]["phash"]) == 64 and len(kept[2]["colour_signature"]) == 96  # stored for later runs
    two = tmp_path / "two"
    two.mkdir()
    _photo(0).save(two / "recompressed.jpg", quality=85)  # the same picture, other bytes and caption
    (two / "recompressed.txt").write_text("the same photo again")
    _photo(7).save(two / "new.png")
    (two / "new.txt").write_text("another photo")
    out = _curate(two, home)
    assert out["counts"] == {"accepted": 1, "rejected": 1}
    rows = _rows(home)
    status, reason, meta = rows["two/recompressed.jpg"]
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, (kept_key,) = cat.sql("SELECT key FROM samples WHERE source_uri LIKE '%one/photo0.png'")
    assert status == "rejected" and reason.startswith(f"phash_dedup: near duplicate of {kept_key[0]}"), reason
    assert meta["near_duplicate_of"] == kept_key[0]
    assert rows["two/new.png"][0] == "accepted"


def test_curating_the_same_folder_again_or_a_changed_caption_matches_nothing(first_run):
    tmp_path, home = first_run
    assert _curate(tmp_path / "one", home)["counts"] == {"accepted": 3}  # its own rows are not its duplicates
    (tmp_path / "one" / "photo1.txt").write_text("a photo, captioned anew")  # the same pixels, a new key
    assert _curate(tmp_path / "one", home)["counts"] == {"accepted": 3}
