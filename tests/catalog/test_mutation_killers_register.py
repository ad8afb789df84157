"""Registration, checkpoint and metric behaviour the other catalog tests left unpinned (found by
mutation testing of catalog/db.py: bench/mutation, module catalog_register)."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path

import pytest

from catalog import Batch, Catalog, VerdictRecord

from .helpers import key, make_batch

COUNTS = ("batches", "skipped", "samples", "verdicts", "encodings", "shards")


def test_register_batches_returns_every_count_even_when_nothing_was_written(tmp_path):
    with Catalog.open(tmp_path / "c.duckdb") as cat:
        run = cat.start_run("curate", run_id="r")
        assert cat.register_batches([], run) == dict.fromkeys(COUNTS, 0)
        batch = make_batch(0)
        first = cat.register_batches([batch], run)
        assert first["batches"] == 1 and first["skipped"] == 0 and first["shards"] == 1
        assert cat.register_batches([batch], run) == {**dict.fromkeys(COUNTS, 0), "batches": 1, "skipped": 1}


def test_an_encoded_shard_is_linked_to_its_curated_shard_and_named_in_the_batch_ledger(tmp_path):
    batch = make_batch(0)
    curated = "/shards/curated/b0000.tar"
    batch = dataclasses.replace(batch, shard=dataclasses.replace(batch.shard, source_shard=curated))
    with Catalog.open(tmp_path / "c.duckdb") as cat:
        run = cat.start_run("encode", run_id="r")
        cat.register_batches([batch, make_batch(1)], run)
        edges = set(cat.sql("SELECT src_kind, src_id, dst_kind, dst_id FROM lineage")[1])
        assert edges == {("run", "r", "shard", batch.shard.uri), ("shard", curated, "shard", batch.shard.uri),
                         ("run", "r", "shard", "/shards/b0001.tar")}
        assert sorted(cat.sql("SELECT shard_uri FROM batches")[1]) == [(batch.shard.uri,), ("/shards/b0001.tar",)]
        unsharded = dataclasses.replace(make_batch(2), shard=None, encodings=[])
        cat.register_batches([unsharded], run)
        assert cat.sql("SELECT count(*) FROM batches WHERE shard_uri IS NULL")[1] == [(1,)]


def test_a_batch_file_refused_at_registration_is_named_by_its_path(tmp_path):
    orphan = Batch(shard=None, samples=[], verdicts=[VerdictRecord(key(9, 0), "min_size", "1", 1.0, 256.0, False)],
                   encodings=[])
    path = orphan.write(tmp_path / "orphan.batch.json")
    with Catalog.open(tmp_path / "c.duckdb") as cat:
        run = cat.start_run("curate", run_id="r")
        with pytest.raises(ValueError) as e:
            cat.register_batches([path], run)
    assert str(e.value).startswith(f"{path}: verdicts or encodings for samples that are neither")


def test_a_checkpoint_id_is_derived_from_its_uri_and_its_config_is_stored_as_sorted_json(tmp_path):
    """catalog/README.md: checkpoint_id is `ckpt-` + sha256(uri)[:16]; flows/steps.py recognises ids by
    the prefix. The config is stored with sorted keys, values JSON cannot hold as their str()."""
    uri = "/ckpt/run1/step10"
    with Catalog.open(tmp_path / "c.duckdb") as cat:
        run = cat.start_run("train", run_id="r")
        ckpt = cat.register_checkpoint(run, uri, {"b": 1, "a": Path("/data/x")})
        assert ckpt == "ckpt-" + hashlib.sha256(uri.encode()).hexdigest()[:16]
        assert cat.sql("SELECT step, manifest, manifest_version, config::VARCHAR FROM checkpoints")[1] == [
            (0, None, None, '{"a": "/data/x", "b": 1}')]


def test_a_checkpoint_records_the_manifest_version_it_was_given(tmp_path):
    with Catalog.open(tmp_path / "c.duckdb") as cat:
        run = cat.start_run("curate", run_id="r")
        cat.register_batches([make_batch(0)], run)
        assert cat.create_manifest("images", "modality = 'image'").version == 1
        assert cat.create_manifest("images", "modality = 'image' AND width < 600").version == 2
        cat.register_checkpoint(run, "/ckpt/a", manifest="images", manifest_version=1)
        cat.register_checkpoint(run, "/ckpt/b", manifest="images@v1")
        cat.register_checkpoint(run, "/ckpt/c", manifest="images")
        assert cat.sql("SELECT uri, manifest, manifest_version FROM checkpoints ORDER BY uri")[1] == [
            ("/ckpt/a", "images", 1), ("/ckpt/b", "images", 1), ("/ckpt/c", "images", 2)]
        with pytest.raises(ValueError, match="names version 1 but version=2"):
            cat.register_checkpoint(run, "/ckpt/d", manifest="images@v1", manifest_version=2)


def test_a_known_checkpoint_without_a_content_hash_on_either_side_is_kept_unchanged(tmp_path):
    """Only two different content hashes mean other weights; a missing one on either side keeps the row."""
    with Catalog.open(tmp_path / "c.duckdb") as cat:
        a, b = cat.start_run("train", run_id="a"), cat.start_run("train", run_id="b")
        plain = cat.register_checkpoint(a, "/ckpt/plain", {"dim": 1}, step=5)
        hashed = cat.register_checkpoint(a, "/ckpt/hashed", {"content_sha256": "aa"}, step=5)
        assert cat.register_checkpoint(b, "/ckpt/plain", {"content_sha256": "bb"}, step=7) == plain
        assert cat.register_checkpoint(b, "/ckpt/hashed", {"dim": 2}, step=7) == hashed
        assert sorted(cat.sql("SELECT uri, run_id, step, config->>'content_sha256' FROM checkpoints")[1]) == [
            ("/ckpt/hashed", "a", 5, "aa"), ("/ckpt/plain", "a", 5, None)]


def test_a_rewritten_checkpoint_is_reported_with_its_folder_run_and_id(tmp_path, caplog):
    with Catalog.open(tmp_path / "c.duckdb") as cat:
        a, b = cat.start_run("train", run_id="run-a"), cat.start_run("train", run_id="run-b")
        ckpt = cat.register_checkpoint(a, "/ckpt/step30", {"content_sha256": "aa"})
        with caplog.at_level(logging.WARNING, logger="catalog.db"):
            cat.register_checkpoint(b, "/ckpt/step30", {"content_sha256": "bb"})
    [warning] = [r.getMessage() for r in caplog.records if r.name == "catalog.db"]
    assert warning.startswith(f"/ckpt/step30 was rewritten with other weights (run run-b): its catalog row {ckpt} ")


def test_log_metrics_keeps_missing_values_and_checks_only_a_given_checkpoint(tmp_path):
    with Catalog.open(tmp_path / "c.duckdb") as cat:
        run = cat.start_run("train", run_id="r")
        cat.log_metrics(run, {"loss": None, "lr": 1}, step=3)
        assert sorted(cat.sql("SELECT name, value, step, checkpoint_id FROM metrics")[1]) == [
            ("loss", None, 3, None), ("lr", 1.0, 3, None)]
        with pytest.raises(ValueError, match="unknown checkpoint 'ckpt-nope'"):
            cat.log_metrics(run, {"loss": 1.0}, checkpoint_id="ckpt-nope")


def test_a_resumed_run_replaces_the_rows_its_stopped_run_logged_for_the_open_window(tmp_path):
    """A run stopped at step 50 logged its open window (started at 41) at its stop checkpoint; the
    resumed run logs the whole window at 60, with window_start=41: the stop's row of that window goes,
    rows outside the window, of other names, splits or run folders stay."""
    with Catalog.open(tmp_path / "c.duckdb") as cat:
        run = cat.start_run("train", run_id="r")
        c40 = cat.register_checkpoint(run, "/runs/one/step40", step=40)
        c50 = cat.register_checkpoint(run, "/runs/one/step50", step=50)
        other = cat.register_checkpoint(run, "/runs/two/step50", step=50)
        cat.log_metrics(run, {"loss": 3.0}, step=40, split="train", checkpoint_id=c40)  # closed window
        cat.log_metrics(run, {"loss": 2.0, "grad_norm": 9.0}, step=50, split="train", checkpoint_id=c50)  # open
        cat.log_metrics(run, {"loss": 2.5}, step=50, split="holdout", checkpoint_id=c50)
        cat.log_metrics(run, {"loss": 2.2}, step=50, split="train", checkpoint_id=other)
        c60 = cat.register_checkpoint(run, "/runs/one/step60", step=60)
        cat.log_metrics(run, {"loss": 1.5}, step=60, split="train", checkpoint_id=c60, window_start=41)
        rows = sorted(cat.sql("SELECT checkpoint_id, name, split, value FROM metrics")[1])
        assert rows == sorted([(c40, "loss", "train", 3.0), (c50, "grad_norm", "train", 9.0),
                               (c50, "loss", "holdout", 2.5), (other, "loss", "train", 2.2),
                               (c60, "loss", "train", 1.5)])
