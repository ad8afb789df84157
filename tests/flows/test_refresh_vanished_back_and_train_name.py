"""A file gone while a refresh hashed it (its index row says 'vanished:') and back since with the same
size and mtime (moved away and back: mv keeps the mtime) is hashed again: by make's rule alone the
next refresh trusted the index and it stayed 'vanished:' for good, never curated. And a train flow
run (a deployment's, or one a refresh triggers) is named by the manifest it trains (helper V)."""

from __future__ import annotations

import os
import shutil

import duckdb

import preprocess.refresh as pr
from flows.refresh import refresh_source

from .test_flow_run_names_s53 import _named
from .test_refresh_file_gone_mid_listing_s53 import ENCODE, _current, digits  # noqa: F401 - digits: a fixture


def test_a_vanished_file_back_with_its_size_and_mtime_is_hashed_and_curated(tmp_path, digits, monkeypatch):  # noqa: F811
    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    for f in sorted(digits.iterdir())[:6]:
        shutil.copy2(f, src)
    away, target = tmp_path / "away.png", src / sorted(p.name for p in src.glob("*.png"))[0]
    hash_now = pr.content_hash

    def moved_away(e):
        if target.exists():
            os.replace(target, away)  # keeps its mtime
        return hash_now(e)

    monkeypatch.setattr(pr, "content_hash", moved_away)
    refresh_source(str(src), home, encode_cfg=ENCODE, backend="local")
    monkeypatch.setattr(pr, "content_hash", hash_now)
    os.replace(away, target)
    refresh_source(str(src), home, encode_cfg=ENCODE, backend="local")
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        hashes = dict(con.execute("SELECT name, content_hash FROM source_index").fetchall())
    finally:
        con.close()
    assert hashes[target.name] != pr.VANISHED
    assert ("accepted", str(target)) in _current(home)


def test_a_train_run_is_named_by_its_manifest(monkeypatch):
    from flows.train import train_flow

    assert _named(train_flow, monkeypatch, {"manifest": "image-train-live@v3"}) == "image-train-live@v3"
