"""Catalog.open(defer_check=True): the schema version is checked (in write mode the file created or
migrated) by the first connection instead of one of the open's own, so an open followed by a call
(or a hold) starts one DuckDB instance, not two; the errors an open raises come from that call."""

from __future__ import annotations

import duckdb
import pytest

import catalog.db as db
from catalog import Catalog, CatalogError, SchemaVersionError


def _forget(path) -> None:
    """As a new process: nothing known of the file."""
    db._SCHEMA_SEEN.pop(str(path.resolve()), None)


def test_a_deferred_open_creates_and_checks_on_its_first_connection(tmp_path, connects):
    path = tmp_path / "catalog.duckdb"
    cat = Catalog.open(path, defer_check=True)
    assert connects == [] and not path.exists()
    assert cat.sql("SELECT count(*) FROM samples")[1] == [(0,)] and len(connects) == 1  # created, migrated, queried
    _forget(path)
    ro = Catalog.open(path, read_only=True, defer_check=True)
    with ro.hold():
        assert ro.sql("SELECT count(*) FROM runs")[1] == [(0,)]
        assert ro.sql("SELECT count(*) FROM samples")[1] == [(0,)]
    assert len(connects) == 2  # the hold's connection checked it and served both calls
    Catalog.open(path, read_only=True)  # unchanged since: no connection
    assert len(connects) == 2


@pytest.mark.parametrize("read_only", [True, False])
def test_a_deferred_open_of_a_newer_catalog_is_refused_at_the_first_call_and_leaves_the_file_free(tmp_path, read_only):
    path = tmp_path / "catalog.duckdb"
    Catalog.open(path).start_run("a", {})
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version VALUES (99, 'from_the_future', now()::TIMESTAMP)")
    con.close()
    cat = Catalog.open(path, read_only=read_only, defer_check=True)
    for call in (lambda: cat.sql("SELECT 1"), cat.hold().__enter__):
        with pytest.raises(SchemaVersionError, match="newer than this code") as refused:
            call()
        # while the error (its traceback: the frames that made the connection) is kept, the refused
        # connection is closed: the file opens in the other mode here
        duckdb.connect(str(path), read_only=not read_only).close()
        assert refused.value


def test_a_deferred_read_only_open_of_another_duckdb_file_is_refused(tmp_path):
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    with pytest.raises(CatalogError, match="not a Lumina catalog"):
        Catalog.open(path, read_only=True, defer_check=True).sql("SELECT 1")
    with pytest.raises(CatalogError, match="not a Lumina catalog"):
        Catalog.open(path, defer_check=True).sql("SELECT 1")
