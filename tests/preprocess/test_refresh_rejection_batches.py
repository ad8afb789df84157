"""A refresh writes the inputs it does not accept in bounded batch files, as lumina curate does
(preprocess.curate.write_rejections): one file of every rejection takes several times its records'
memory to write and register (~7 KB an input), GBs when a refresh meets a large new folder."""

from __future__ import annotations

import numpy as np
from PIL import Image

import preprocess.curate as pc
from flows.refresh import refresh_source
from flows.steps import curate_step
from preprocess.curate import CurateConfig
from preprocess.encode import EncodeConfig


def _rejection_files(home) -> set:
    return {p for p in home.rglob("rejections-*.batch.json")}


def test_a_refresh_splits_its_rejections_and_registers_every_one(tmp_path, monkeypatch):
    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(src / "kept.png")
    (src / "kept.txt").write_text("a noisy square")
    curate_step(str(src), str(home), CurateConfig(), backend="local")
    before = _rejection_files(home)
    for i in range(5):  # five new inputs the refresh does not accept: too small
        Image.fromarray(rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)).save(src / f"tiny{i}.png")
        (src / f"tiny{i}.txt").write_text(f"tiny {i}")
    monkeypatch.setattr(pc, "REJECTIONS_PER_BATCH", 2)
    refresh_source(str(src), home, CurateConfig(), encode_cfg=EncodeConfig(text="phone"), backend="local")
    from contracts.records import Batch

    written = _rejection_files(home) - before
    assert sorted(len(Batch.read(p).samples) for p in written) == [1, 2, 2], written
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        rows = cat.sql("SELECT source_uri, status FROM samples WHERE source_uri LIKE '%tiny%' ORDER BY 1")[1]
    assert [(u.rsplit("/", 1)[-1], s) for u, s in rows] == [(f"tiny{i}.png", "rejected") for i in range(5)]
