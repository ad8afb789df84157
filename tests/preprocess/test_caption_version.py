"""A plugin's caption normalisation version is part of the curated shards' names. Keys hash the raw
caption, so before it a `lumina curate` of the same files after a normalisation change found its
complete shards and kept the old captions; only a fresh workspace had the new ones. Now bumping the
version writes new shards with the new captions, and the catalog keeps one row per sample (its
caption the new one); the same version again writes and registers nothing new."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from catalog import Catalog
from contracts.records import Batch
from contracts.shards import iter_samples
from preprocess.curate import CurateConfig, curate
from preprocess.encode import curated_shards
from preprocess.image.demo_corpus import write_demo_corpus
from preprocess.modality import get_plugin

MODALITY = "image"  # any plugin: the mechanism is generic; this one curates fastest
OPTIONS = {"resize": "square", "size": 32}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_demo_corpus(tmp_path_factory.mktemp("corpus"), num_digits=8, num_shapes=2, seed=0)


def _curate_and_register(root: Path, home: Path) -> tuple[list[str], dict[str, int]]:
    result = curate(str(root), home, CurateConfig(modality=MODALITY, options=OPTIONS), backend="local")
    with Catalog.open(home / "catalog.duckdb") as cat:
        run = cat.start_run("curate", {})
        counts = cat.register_batches(result.batch_paths, run)
        cat.finish_run(run)
    return result.shard_uris, counts


def _shard_captions(shard_uris: list[str]) -> dict[str, str]:
    return {key: fields["txt"].decode() for uri in shard_uris for key, fields in iter_samples(uri)}


def _normalising_anew(monkeypatch, version: str) -> None:
    """The plugin as after a change to its caption normalisation: captions read differently
    (here: upper case), and the version bumped."""
    plugin = get_plugin(MODALITY)
    analyse = type(plugin).analyse

    def analyse_anew(item, caption, key, opts):
        cands = analyse(plugin, item, caption, key, opts)
        for c in cands:
            c.record = replace(c.record, caption=(c.record.caption or "").upper())
        return cands

    monkeypatch.setattr(plugin, "analyse", analyse_anew)
    monkeypatch.setattr(plugin, "caption_version", version)


def test_a_bumped_caption_version_writes_the_new_captions_and_the_catalog_keeps_one_row_per_key(corpus, tmp_path, monkeypatch):
    home = tmp_path / "home"
    old_shards, _ = _curate_and_register(corpus.root, home)
    old_captions = _shard_captions(old_shards)
    assert old_captions and any(c != c.upper() for c in old_captions.values())

    _normalising_anew(monkeypatch, "test-2")
    new_shards, counts = _curate_and_register(corpus.root, home)
    assert not set(new_shards) & set(old_shards)
    new_captions = _shard_captions(new_shards)
    assert new_captions == {k: c.upper() for k, c in old_captions.items()}  # same keys, the new captions
    written = [s for uri in new_shards for s in Batch.read(Batch.path_beside(uri)).samples]
    assert {s.key: s.caption for s in written} == new_captions
    assert counts["skipped"] == 0

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, rows = cat.sql("SELECT key, caption FROM samples WHERE status = 'accepted'")
        assert dict(rows) == new_captions  # one row per key, its caption the new one
        assert not any(cat.check().values())  # unique keys, shard members known
    assert curated_shards(home, MODALITY) == sorted(new_shards)  # encode takes the latest curation


def test_the_same_version_again_writes_and_registers_nothing_new(corpus, tmp_path, monkeypatch):
    home = tmp_path / "home"
    _normalising_anew(monkeypatch, "test-2")
    first, _ = _curate_and_register(corpus.root, home)
    again, counts = _curate_and_register(corpus.root, home)
    assert again == first
    assert counts["skipped"] == counts["batches"]  # every batch as registered before
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, [(n,)] = cat.sql("SELECT count(*) FROM shards")
    assert n == len(first)
