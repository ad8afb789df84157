"""Schema as code: numbered migrations, upgrade of an older file, refusal of a newer one."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from catalog import Catalog, CatalogError, SchemaVersionError, schema_version
from catalog.db import migrate
from catalog.sqlfiles import migrations

from .helpers import dump, make_batch


def test_migrations_are_numbered_sql_files():
    migs = migrations()
    assert [m.version for m in migs] == list(range(1, len(migs) + 1))
    assert len(migs) >= 2 and schema_version() == len(migs)


def test_fresh_catalog_is_at_the_latest_version(tmp_path):
    path = tmp_path / "new" / "catalog.duckdb"
    Catalog.open(path)
    con = duckdb.connect(str(path), read_only=True)  # the plain duckdb client opens it too
    assert con.execute("SELECT max(version) FROM schema_version").fetchall() == [(schema_version(),)]
    con.close()


def _make_v1_catalog(path):
    """A catalog as the previous schema version (v1) wrote it, with data in it."""
    con = duckdb.connect(str(path))
    migrate(con, path, target=1)
    now = datetime(2025, 1, 1)
    con.execute("INSERT INTO runs VALUES ('old-run', 'curate', '{}', 'abc123', ?, ?, 'completed')", [now, now])
    con.execute("INSERT INTO shards VALUES ('/old/s0.tar', 'encoded', 1, 1234, 'ff', 'old-run')")
    con.execute("INSERT INTO samples VALUES ('0000000a000000000000000000000000', 'image', '/raw/a.png', 'old caption', "
                "512, 512, NULL, NULL, NULL, 'train', '{}', 'accepted', NULL, 'old-run', 'old-run')")
    con.execute("INSERT INTO verdicts VALUES ('0000000a000000000000000000000000', 'min_size', '1', 512, 256, true, 'old-run')")
    con.execute("INSERT INTO checkpoints VALUES ('ckpt-old', '/old/ckpt', 'old-run', NULL, NULL, 5, '{}', ?)", [now])
    con.close()


def test_opening_a_v1_catalog_migrates_it_and_keeps_its_data(tmp_path):
    path = tmp_path / "old.duckdb"
    _make_v1_catalog(path)
    old = dump(path)
    assert max(v for v, *_ in old["schema_version"]) == 1 and "lineage" not in old

    with Catalog.open(path) as cat:
        assert cat.sql("SELECT max(version) FROM schema_version")[1] == [(schema_version(),)]
        # lineage backfilled from v1 facts, views usable on old data
        assert set(cat.sql("SELECT src_kind, src_id, dst_kind, dst_id FROM lineage")[1]) == {
            ("run", "old-run", "shard", "/old/s0.tar"), ("run", "old-run", "checkpoint", "ckpt-old")}
        assert cat.sql("SELECT modality, bucket, samples FROM accepted_by_bucket")[1] == [("image", "c: 512-1023px", 1)]
        # and it takes new registrations
        cat.start_run("curate", {}, run_id="new-run")
        cat.register_batches([make_batch(1)], "new-run")
        assert cat.sql("SELECT count(*) FROM samples")[1] == [(7,)]
    new = dump(path)
    for table, rows in old.items():
        if table not in ("schema_version", "samples", "verdicts", "shards", "shard_samples", "encodings", "runs"):
            assert new[table] == rows, table
        width = len(rows[0]) if rows else 0  # v4 adds columns to runs: compare the old ones
        assert all(r in {n[:width] for n in new[table]} for r in rows), table  # nothing lost


def test_read_only_open_of_an_older_catalog_says_how_to_migrate(tmp_path):
    path = tmp_path / "old.duckdb"
    _make_v1_catalog(path)
    with pytest.raises(SchemaVersionError, match="older than this code.*migrate"):
        Catalog.open(path, read_only=True)


@pytest.mark.parametrize("read_only", [False, True])
def test_a_newer_catalog_is_refused_with_a_clear_message(tmp_path, read_only):
    path = tmp_path / "future.duckdb"
    Catalog.open(path)
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version VALUES (99, 'from_the_future', now()::TIMESTAMP)")
    con.close()
    before = dump(path)
    with pytest.raises(SchemaVersionError, match=r"schema v99, newer than this code's v\d+: upgrade"):
        Catalog.open(path, read_only=read_only)
    assert dump(path) == before


def test_a_foreign_duckdb_file_is_not_taken_for_a_catalog(tmp_path):
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE stuff (x INTEGER)")
    con.close()
    with pytest.raises(CatalogError, match="not a Lumina catalog"):
        Catalog.open(path)
