"""`lumina encode` says how many shards it encoded now and how many it reused: a rerun with
nothing left to do used to report every skipped shard under "shards" as if it had encoded it."""

from __future__ import annotations

import shutil

from flows.steps import encode_step
from preprocess.encode import EncodeConfig


def test_encode_counts_reused_shards_apart_from_encoded_ones(tiny_home, tmp_path):
    home = tmp_path / "home"
    for part in ("curated", "encoded", "encoders"):
        shutil.copytree(tiny_home.home / part, home / part)
    shutil.copy(tiny_home.catalog, home / "catalog.duckdb")

    again = encode_step(str(home), "image", EncodeConfig(), backend="local")
    assert again["shards"] >= 2 and again["encoded_now"] == 0 and again["already_encoded"] == again["shards"]

    lost = sorted((home / "encoded" / "image").glob("*.tar"))[0]  # one shard lost: only it is encoded again
    lost.unlink()
    redone = encode_step(str(home), "image", EncodeConfig(), backend="local")
    assert (redone["shards"], redone["encoded_now"], redone["already_encoded"]) == (again["shards"], 1, again["shards"] - 1)
