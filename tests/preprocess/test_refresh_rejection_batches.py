"""A refresh writes the inputs it does not accept in bounded batch files, as lumina curate does
(preprocess.curate.write_rejections): one file of every rejection takes several times its records'
memory to write and register (~7 KB an input), GBs when a refresh meets a large new folder. And, as
curate's driver, it holds no near-duplicate signature once the search is done (preprocess.curate.settle)."""

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
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(src / "new.png")  # accepted: a signature
    (src / "new.txt").write_text("another noisy square")
    monkeypatch.setattr(pc, "REJECTIONS_PER_BATCH", 2)
    import gc

    import preprocess.refresh as pr
    from preprocess.image.dedup import NearSignature

    signatures, write = [], pr.write_rejections

    def counted(*args, **kwargs):  # the shards are written by now: what the refresh holds to its end
        gc.collect()
        signatures.append(sum(type(o) is NearSignature for o in gc.get_objects()))
        return write(*args, **kwargs)

    monkeypatch.setattr(pr, "write_rejections", counted)
    refresh_source(str(src), home, CurateConfig(), encode_cfg=EncodeConfig(text="phone"), backend="local")
    from contracts.records import Batch

    written = _rejection_files(home) - before
    assert sorted(len(Batch.read(p).samples) for p in written) == [1, 2, 2], written
    assert signatures == [0]  # before settle: one a new input (7)
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        rows = cat.sql("SELECT source_uri, status FROM samples WHERE source_uri LIKE '%tiny%' ORDER BY 1")[1]
    assert [(u.rsplit("/", 1)[-1], s) for u, s in rows] == [(f"tiny{i}.png", "rejected") for i in range(5)]
