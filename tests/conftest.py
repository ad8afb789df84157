"""Shared fixtures: a tiny curated, encoded and registered workspace built without Ray or Prefect."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "RAY_AUTH_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)


@dataclass
class TinyHome:
    home: Path
    catalog: str
    train_manifest: str
    holdout_manifest: str
    null_caption: str
    run_id: str


@pytest.fixture(scope="session")
def tiny_home(tmp_path_factory) -> TinyHome:
    from catalog import Catalog
    from preprocess.curate import CurateConfig, chunk, deduplicate, discover, safe_analyse, write_curated_shard, write_rejections
    from preprocess.demo_corpus import write_demo_corpus
    from preprocess.encode import encode_shard, write_null_caption
    from encoders.text import load_text_encoder

    home = tmp_path_factory.mktemp("tiny_home")
    corpus = write_demo_corpus(home / "source", num_digits=200, num_shapes=20)
    cfg = CurateConfig(shard_size=128)
    cands = deduplicate([safe_analyse(p, cfg, home / "quarantine") for p in discover(corpus.root)], cfg)
    accepted = sorted((c for c in cands if c.record.status == "accepted"), key=lambda c: c.record.key)
    curated = [write_curated_shard(part, home / "curated", cfg) for part in chunk(accepted, cfg.shard_size)]
    rejected = write_rejections(cands, home / "curated" / "rejections.batch.json")
    encoder = load_text_encoder("minilm")
    encoded = [encode_shard(b.shard.uri, home / "encoded", encoder) for b in curated]
    null = write_null_caption(encoder, home)
    catalog = str(home / "catalog.duckdb")
    with Catalog.open(catalog) as cat:
        run_id = cat.start_run("tiny_home", {})
        cat.register_batches([*curated, rejected, *encoded], run_id)
        cat.create_manifest("tiny-train", "modality = 'image' AND split = 'train'")
        cat.create_manifest("tiny-holdout", "modality = 'image' AND split = 'holdout'")
        cat.finish_run(run_id)
    return TinyHome(home, catalog, "tiny-train", "tiny-holdout", str(null), run_id)
