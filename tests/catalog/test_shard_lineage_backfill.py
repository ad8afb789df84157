"""Migration 6 backfills the curated shard -> encoded shard edges of catalogs whose encoded shards
were registered before batch files named their curated shard: the same edges registration writes."""

from __future__ import annotations

import shutil

import duckdb

from catalog import Catalog
from catalog.sqlfiles import migrations

EDGES = "SELECT src_id, dst_id FROM lineage WHERE src_kind = 'shard' AND dst_kind = 'shard' ORDER BY ALL"


def test_the_backfill_finds_the_edges_registration_writes(tiny_home, tmp_path):
    path = tmp_path / "catalog.duckdb"
    shutil.copy(tiny_home.catalog, path)
    with Catalog.open(path) as cat:
        written = cat.sql(EDGES)[1]
    assert len(written) >= 2 and all("/curated/" in c and "/encoded/" in e for c, e in written)

    con = duckdb.connect(str(path))  # as an upgraded catalog: no edges, at version 5
    con.execute("DELETE FROM lineage WHERE src_kind = 'shard' AND dst_kind = 'shard'")
    con.execute("DELETE FROM schema_version WHERE version >= 6")
    con.close()
    with Catalog.open(path) as cat:  # opening for writing migrates
        assert cat.sql(EDGES)[1] == written
        assert cat.sql("SELECT max(version) FROM schema_version")[1] == [(migrations()[-1].version,)]  # up to the newest


def test_the_backfill_adds_nothing_twice_and_leaves_recorded_edges_alone(tiny_home, tmp_path):
    path = tmp_path / "catalog.duckdb"
    shutil.copy(tiny_home.catalog, path)
    with Catalog.open(path) as cat:
        written = cat.sql(EDGES)[1]
    con = duckdb.connect(str(path))
    con.execute(migrations()[5].sql)  # again, on a catalog that has every edge
    assert con.execute(EDGES).fetchall() == written
    con.close()
