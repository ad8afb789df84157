"""Migration 007: a v6 catalog whose source_index holds a name twice (a listing that yielded the name
twice inserted it twice) keeps one row per (source, modality, name), chosen by its values alone,
and `lumina catalog check` watches that it stays so."""

from __future__ import annotations

from datetime import datetime

import duckdb

from catalog import Catalog, schema_version
from catalog.db import migrate
from catalog.sqlfiles import migrations

T0, T1, T2 = datetime(2026, 1, 1), datetime(2026, 1, 2), datetime(2026, 1, 3)


def _row(name, status, last_seen, tag, modality="image", removed_at=None):
    return ("/src/*.tar", modality, name, f"/src/{tag}.tar#{name}", name, 3, 7, tag, T0, last_seen, status, removed_at, "r1")


ROWS = [
    _row("a.tar/x.png", "present", T1, "old"),   # x: two present rows, the one seen last stays
    _row("a.tar/x.png", "present", T2, "new"),
    _row("a.tar/y.png", "removed", T2, "gone", removed_at=T2),  # y: the present one over a removed one
    _row("a.tar/y.png", "present", T1, "here"),
    _row("a.tar/z.png", "present", T2, "b"),    # z: the same times: the lower uri, whatever the order
    _row("a.tar/z.png", "present", T2, "a"),
    _row("a.tar/x.png", "present", T1, "video", modality="video"),  # another modality: no repeat
    _row("a.tar/w.png", "present", T1, "w"),
]


def _v6_catalog(path, rows) -> None:
    con = duckdb.connect(str(path))
    migrate(con, path, target=6)
    con.executemany("INSERT INTO source_index VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.close()


def _index(cat) -> list[tuple]:
    return cat.sql("SELECT modality, name, uri, content_hash, mtime_ns, status FROM source_index ORDER BY ALL")[1]


def test_migration_007_keeps_one_index_row_per_name(tmp_path):
    # a repeated name's row says 'repeated:' (no mtime): the next refresh hashes the entry and curates its input again
    kept = [("image", "a.tar/w.png", "/src/w.tar#a.tar/w.png", "w", 7, "present"),
            ("image", "a.tar/x.png", "/src/new.tar#a.tar/x.png", "repeated:", None, "present"),
            ("image", "a.tar/y.png", "/src/here.tar#a.tar/y.png", "repeated:", None, "present"),
            ("image", "a.tar/z.png", "/src/a.tar#a.tar/z.png", "repeated:", None, "present"),
            ("video", "a.tar/x.png", "/src/video.tar#a.tar/x.png", "video", 7, "present")]
    for order in (ROWS, ROWS[::-1]):  # the choice does not depend on the rows' storage order
        path = tmp_path / f"v6-{len(list(tmp_path.iterdir()))}.duckdb"
        _v6_catalog(path, order)
        with Catalog.open(path) as cat:
            assert cat.sql("SELECT max(version) FROM schema_version")[1] == [(schema_version(),)]
            assert _index(cat) == kept
            assert cat.check()["source_index_unique"] == 0
            with cat._connection() as con:  # idempotent: again on a v7 file it changes nothing
                con.execute(migrations()[6].sql)
            assert _index(cat) == kept


def test_catalog_check_counts_repeated_index_names(tmp_path):
    path = tmp_path / "c.duckdb"
    Catalog.open(path).close()
    con = duckdb.connect(str(path))
    con.executemany("INSERT INTO source_index (source, modality, name, uri, input_name, size, mtime_ns, content_hash, "
                    "first_seen, last_seen, status, removed_at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", ROWS[:2])
    con.close()
    with Catalog.open(path, read_only=True) as cat:
        assert cat.check()["source_index_unique"] == 1
