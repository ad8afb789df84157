"""Each catalog connection starts a DuckDB database instance (about 40 ms, half of it CPU, however
small the file), and a no-op `lumina refresh` opened 13 of them, a refresh that curated 32.
Catalog.open skips its version check on a file unchanged since this process last had it open,
the live-manifest functions run on one connection, and a --where predicate is parsed once. A file
changed since is still checked: a newer schema is refused, a file that is no catalog too. A
connection opened while another one to the file is open in the process (what makes it cheap: the
instance is shared) streams as any other."""

from __future__ import annotations

import duckdb
import pytest

from catalog import Catalog, CatalogError, SchemaVersionError
from catalog.source_index import LiveManifest, declare_live_manifest, update_live_manifests


def test_opening_an_unchanged_catalog_again_opens_no_connection(tmp_path, connects):
    path = tmp_path / "catalog.duckdb"
    Catalog.open(path)  # creates and migrates it
    connects.clear()
    cat = Catalog.open(path)
    assert connects == []
    assert cat.sql("SELECT count(*) FROM samples")[1] == [(0,)] and len(connects) == 1
    Catalog.open(path, read_only=True)
    assert len(connects) == 1


def test_a_catalog_changed_since_is_checked_again_and_a_newer_schema_refused(tmp_path, connects):
    path = tmp_path / "catalog.duckdb"
    Catalog.open(path).start_run("a", {})
    con = duckdb.connect(str(path))  # another program (or a newer lumina) writes it
    con.execute("INSERT INTO schema_version VALUES (99, 'from_the_future', now()::TIMESTAMP)")
    con.close()
    connects.clear()
    with pytest.raises(SchemaVersionError, match="newer than this code"):
        Catalog.open(path)
    assert len(connects) == 1
    with pytest.raises(SchemaVersionError, match="newer than this code"):
        Catalog.open(path, read_only=True)


def test_a_catalog_replaced_by_another_file_is_checked_again(tmp_path):
    path = tmp_path / "catalog.duckdb"
    Catalog.open(path)
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    other.replace(path)
    with pytest.raises(CatalogError, match="not a Lumina catalog"):
        Catalog.open(path)


def test_declaring_and_updating_live_manifests_take_one_connection_each(tmp_path, connects):
    cat = Catalog.open(tmp_path / "catalog.duckdb")
    connects.clear()
    declare_live_manifest(cat, LiveManifest("live", "modality = 'image'", train_min_growth=1))
    assert len(connects) == 1
    connects.clear()
    assert update_live_manifests(cat) == []  # nothing selected yet: no version
    assert len(connects) == 1


def test_a_predicate_is_parsed_once(monkeypatch):
    from catalog.sandbox import canonical_predicate

    where = "modality = 'image' AND key <> 'test_connection_count'"  # a text no other test parses
    first = canonical_predicate(where)
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: pytest.fail("parsed again"))
    assert canonical_predicate(where) == first == "((modality = 'image') AND (\"key\" != 'test_connection_count'))"


def test_a_connection_opened_while_another_is_held_streams(tmp_path):
    """sandboxed_connect left the check of lock_configuration unfinished (fetchone) on a connection
    to an instance already open here, and DuckDB 2 refused its next streamed query: a refresh's
    load_index failed with ResourceInUseException while anything else held the catalog."""
    from catalog.source_index import samples_gone_from_source

    path = tmp_path / "catalog.duckdb"
    held, other = Catalog.open(path), Catalog.open(path)
    with held.hold():
        assert samples_gone_from_source(other, "/src", "image", ["/src/"], [], []) == []
        assert other.sql("SELECT count(*) FROM samples")[1] == [(0,)]
