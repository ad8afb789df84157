"""catalog/sandbox.py's connections (sandboxed_connect), as a caller gets them: read-write unless asked
read-only, sandboxed either way, and the first connection of a process with DuckDB's progress bar off
(bench/mutation: a read-only connection that could write, and a configuration locked before the SET, which
skipped it, were left alive by the first pass)."""

from __future__ import annotations

import duckdb
import pytest

from catalog.sandbox import sandboxed_connect

from .helpers import run_py

SETTINGS = ("SELECT current_setting('enable_progress_bar'), current_setting('lock_configuration'), "
            "current_setting('enable_external_access')")


def _catalog_file(tmp_path) -> str:
    path = str(tmp_path / "catalog.duckdb")
    duckdb.connect(path).close()
    return path


def test_a_connection_writes_unless_read_only_and_is_sandboxed_either_way(tmp_path):
    path = _catalog_file(tmp_path)
    con = sandboxed_connect(path)  # the default: read-write
    try:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
        assert con.execute(SETTINGS).fetchall()[0][1:] == (True, False)
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("SET enable_external_access = true")
    finally:
        con.close()
    con = sandboxed_connect(path, read_only=True)
    try:
        assert con.execute("SELECT x FROM t").fetchall() == [(1,)]
        assert con.execute(SETTINGS).fetchall()[0][1:] == (True, False)
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("INSERT INTO t VALUES (2)")
    finally:
        con.close()


def test_the_first_connection_of_a_fresh_process_has_no_progress_bar(tmp_path):
    """In a process of its own (stdout a pipe or a file: `lumina catalog sql --csv > FILE`), DuckDB's default
    draws a progress bar on stdout; the first connection turns it off before it locks the configuration.
    (Inside pytest DuckDB's default is off already, so it is seen in a fresh process.)"""
    path = _catalog_file(tmp_path)
    con = sandboxed_connect(path)  # here too the first connection ends locked
    assert con.execute(SETTINGS).fetchall()[0][1:] == (True, False)
    con.close()
    code = ("import sys, duckdb\n"
            "from catalog.sandbox import sandboxed_connect\n"
            "print(duckdb.connect().execute(\"SELECT current_setting('enable_progress_bar')\").fetchall()[0][0])\n"
            "for read_only in (False, True):\n"
            "    con = sandboxed_connect(sys.argv[1], read_only=read_only)\n"
            "    print(con.execute(sys.argv[2]).fetchall()[0])\n"
            "    con.close()\n")
    proc = run_py(code, path, SETTINGS)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == ["True", "(False, True, False)", "(False, True, False)"]  # DuckDB's default, ours
