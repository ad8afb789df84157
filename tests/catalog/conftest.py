from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import catalog.db as db

from catalog import Catalog

from .helpers import make_batch


@pytest.fixture(scope="session")
def base_catalog(tmp_path_factory) -> Path:
    """A small catalog (3 batches, one run, a manifest, a checkpoint), built once; copy before writing."""
    path = tmp_path_factory.mktemp("base") / "catalog.duckdb"
    with Catalog.open(path) as cat:
        run = cat.start_run("curate", {"source": "synthetic"}, run_id="run-base")
        cat.register_batches([make_batch(b) for b in range(3)], run)
        cat.finish_run(run)
        train = cat.start_run("train", {"steps": 10}, run_id="run-train")
        m = cat.create_manifest("images", "modality = 'image' AND split = 'train'")
        ckpt = cat.register_checkpoint(train, "/ckpt/step10.safetensors", {"dim": 64}, m.name, m.version, step=10)
        cat.log_metrics(train, {"loss": 0.5}, step=10, checkpoint_id=ckpt)
        cat.log_metrics(train, {"loss": 0.4, "fid": 12.0}, step=10, split="holdout", checkpoint_id=ckpt)
        cat.finish_run(train)
    return path


@pytest.fixture
def catalog_copy(base_catalog, tmp_path) -> Path:
    dst = tmp_path / "catalog.duckdb"
    shutil.copy(base_catalog, dst)
    return dst


@pytest.fixture
def connects(monkeypatch):
    """How many catalog connections were opened (sandboxed_connect calls)."""
    calls = []
    real = db.sandboxed_connect

    def counting(*a, **k):
        calls.append(a)
        return real(*a, **k)

    monkeypatch.setattr(db, "sandboxed_connect", counting)
    return calls
