"""The sandboxed catalog: each attack of issue 9 is refused with one line and exit code 2, and
nothing outside the catalog is read or written (the sandbox.py rules)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalog import Catalog
from catalog.cli import main

from .helpers import dump

SECRET = "s3cr3t-token-7f1d"  # a line of a file outside the catalog that no output may contain


@pytest.fixture
def env(catalog_copy, tmp_path, monkeypatch):
    """A catalog copy, a secret file beside it, and a HOME where an extension install would land."""
    secret = tmp_path / "secret.csv"
    secret.write_text(f"{SECRET}\nname,value\n{SECRET},1\n")  # first line too: errors quote first lines
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return catalog_copy, tmp_path, secret


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# Why a statement may be refused: our statement check, or DuckDB's sandbox (files, configuration).
REFUSALS = ("refused", "disabled by configuration", "configuration has been locked")


def _assert_refused(rc: int, out: str, err: str, why: tuple[str, ...] = REFUSALS) -> None:
    assert rc == 2, (rc, out, err)
    assert err.startswith("lumina catalog: error: ") and err.count("\n") == 1, err
    assert any(w in err for w in why), err  # refused for the right reason, not by accident
    assert SECRET not in out and SECRET not in err


# (attack, the path it would create, if any). {tmp} and {secret} are filled in per test.
SQL_ATTACKS = {
    "copy_to": ("COPY samples TO '{tmp}/stolen.csv'", "stolen.csv"),
    "copy_select_to": ("COPY (SELECT * FROM runs) TO '{tmp}/stolen.parquet' (FORMAT parquet)", "stolen.parquet"),
    "export_database": ("EXPORT DATABASE '{tmp}/dump'", "dump"),
    "read_text": ("SELECT * FROM read_text('{secret}')", None),
    "read_csv": ("SELECT * FROM read_csv('{secret}')", None),
    "read_blob": ("SELECT * FROM read_blob('{secret}')", None),
    "replacement_scan": ("SELECT * FROM '{secret}'", None),
    "select_then_read": ("SELECT 1; SELECT * FROM read_text('{secret}')", None),
    "attach_read_write": ("ATTACH '{tmp}/other.duckdb' AS other (READ_WRITE)", "other.duckdb"),
    "attach_then_write": ("ATTACH '{tmp}/other.duckdb' AS other; CREATE TABLE other.t AS SELECT 1", "other.duckdb"),
    "install": ("INSTALL httpfs", "home/.duckdb"),
    "load": ("LOAD httpfs", None),
    "load_file": ("LOAD '{tmp}/evil.duckdb_extension'", None),
    "pragma_profiling_output": ("PRAGMA profiling_output = '{tmp}/profile.json'", "profile.json"),
    "pragma_database_size": ("PRAGMA database_size", None),
    "set_external_access": ("SET enable_external_access = true", None),
    "set_threads": ("SET threads = 1", None),
    "reset_lock": ("RESET lock_configuration", None),
    # a PIVOT without IN (...) makes a MULTI statement: judged by what it starts with
    "copy_dynamic_pivot": ("COPY (PIVOT metrics ON name USING first(value)) TO '{tmp}/stolen.csv'", "stolen.csv"),
    "attach_dynamic_pivot": ("ATTACH '{tmp}/other.duckdb' AS other; CREATE TABLE other.t AS "
                             "PIVOT metrics ON name USING first(value)", "other.duckdb"),
}


@pytest.mark.parametrize("write", [False, True], ids=["read-only", "write"])
@pytest.mark.parametrize("attack", sorted(SQL_ATTACKS))
def test_sql_attack_is_refused_and_touches_nothing(env, capsys, attack, write):
    catalog, tmp, secret = env
    query, creates = SQL_ATTACKS[attack]
    before = dump(catalog)
    argv = ["sql", query.format(tmp=tmp, secret=secret), "--catalog", str(catalog)] + (["--write"] if write else [])
    _assert_refused(*_run(capsys, *argv))
    if creates:
        assert not (tmp / creates).exists()
    assert dump(catalog) == before


@pytest.mark.parametrize("query", [
    "COPY samples TO '{tmp}/stolen.csv'",
    "SELECT * FROM read_text('{secret}')",
    "ATTACH '{tmp}/other.duckdb' AS other",
    "SET enable_external_access = true",
    "INSTALL httpfs",
])
def test_the_connection_itself_is_sandboxed(env, query):
    """Beneath the statement checks: even the Python API's trusted `sql` on a writable catalog can't get out."""
    catalog, tmp, secret = env
    with Catalog.open(catalog) as cat, pytest.raises(Exception) as err:
        cat.sql(query.format(tmp=tmp, secret=secret))
    assert SECRET not in str(err.value)
    assert "disabled" in str(err.value) or "locked" in str(err.value), err.value
    assert not (tmp / "stolen.csv").exists() and not (tmp / "other.duckdb").exists()
    assert not (tmp / "home" / ".duckdb").exists()


@pytest.mark.parametrize("query", [
    "UPDATE schema_version SET name = 'tampered'",
    "DELETE FROM schema_version",
    "INSERT INTO schema_version VALUES (99, 'fake', now()::TIMESTAMP)",
    "DROP TABLE schema_version",
    "ALTER TABLE schema_version RENAME TO sv; CREATE TABLE schema_version AS SELECT * FROM sv",
    "DELETE FROM metrics; DELETE FROM schema_version",  # the whole statement list is undone
    "BEGIN; DELETE FROM schema_version; COMMIT",
])
def test_write_cannot_touch_schema_version(env, capsys, query):
    catalog, _, _ = env
    before = dump(catalog)
    _assert_refused(*_run(capsys, "sql", query, "--write", "--catalog", str(catalog)))
    assert dump(catalog) == before


@pytest.mark.parametrize("query, named", [
    ("DROP TABLE samples CASCADE", "samples"),
    ("ALTER TABLE samples DROP COLUMN caption", "samples"),
    ("ALTER TABLE verdicts ADD COLUMN x INTEGER", "verdicts"),
    ("ALTER TABLE runs RENAME TO old_runs", "runs"),
    ("DROP VIEW filter_drop_rates", "filter_drop_rates"),
    ("CREATE OR REPLACE VIEW accepted_by_bucket AS SELECT 1 AS x", "accepted_by_bucket"),
])
def test_write_cannot_change_the_catalogs_own_tables_and_views(env, capsys, query, named):
    """`DROP TABLE samples CASCADE` reported success and left a catalog no command could read."""
    catalog, _, _ = env
    before = dump(catalog)
    rc, out, err = _run(capsys, "sql", query, "--write", "--catalog", str(catalog))
    _assert_refused(rc, out, err, why=(f"changes the catalog's own schema ({named}",))
    assert dump(catalog) == before
    assert _run(capsys, "stats", "--catalog", str(catalog))[0] == 0


def test_write_still_makes_and_drops_tables_of_ones_own(env, capsys):
    catalog, _, _ = env
    for query in ("CREATE TABLE mine AS SELECT key FROM samples", "CREATE VIEW my_view AS SELECT * FROM mine",
                  "DROP VIEW my_view", "ALTER TABLE mine ADD COLUMN note VARCHAR", "DROP TABLE mine"):
        rc, _, err = _run(capsys, "sql", query, "--write", "--catalog", str(catalog))
        assert rc == 0, (query, err)


def test_write_still_writes_the_catalog(env, capsys):
    catalog, _, _ = env
    rc, _, err = _run(capsys, "sql", "DELETE FROM metrics WHERE name = 'fid'; CREATE TABLE notes AS SELECT 1 AS x",
                      "--write", "--catalog", str(catalog))
    assert rc == 0, err
    with Catalog.open(catalog, read_only=True) as cat:
        assert cat.sql("SELECT (SELECT count(*) FROM metrics WHERE name = 'fid'), (SELECT x FROM notes)")[1] == [(0, 1)]
        assert cat.sql("SELECT count(*) FROM metrics")[1] == [(2,)]


FILE = "disabled by configuration"
SHAPE = "must be one boolean expression"
WHERE_ATTACKS = {  # attack: (predicate, why it must be refused)
    "read_text_scalar": ("(SELECT content FROM read_text('{secret}')) IS NOT NULL", FILE),
    "leak_through_cast_error": ("CAST((SELECT content FROM read_text('{secret}')) AS INTEGER) = 1", FILE),
    "read_csv_in": ("key IN (SELECT column0 FROM read_csv('{secret}', header = false))", FILE),
    "read_blob_exists": ("EXISTS (SELECT 1 FROM read_blob('{secret}'))", FILE),
    "second_statement": ("modality = 'image'; DROP TABLE samples", "syntax error"),
    "closing_parenthesis_union": ("false) UNION ALL (SELECT key FROM samples", SHAPE),
    "closing_parenthesis_order": ("true) ORDER BY (key", SHAPE),
    "copy_in_where": ("true); COPY samples TO '{tmp}/stolen.csv'; SELECT (1", SHAPE),
}


@pytest.mark.parametrize("attack", sorted(WHERE_ATTACKS))
def test_manifest_where_attack_is_refused(env, capsys, attack):
    catalog, tmp, secret = env
    before = dump(catalog)
    where, why = WHERE_ATTACKS[attack]
    argv = ["manifest", "create", "evil", "--where", where.format(tmp=tmp, secret=secret), "--catalog", str(catalog)]
    _assert_refused(*_run(capsys, *argv), why=(why,))
    assert dump(catalog) == before and not (tmp / "stolen.csv").exists()


def test_where_attack_is_refused_by_the_python_api_on_a_writable_catalog(env):
    """The flow calls create_manifest on a writable catalog: its connection is sandboxed too."""
    catalog, _, secret = env
    with Catalog.open(catalog) as cat, pytest.raises(ValueError) as err:
        cat.create_manifest("evil", f"CAST((SELECT content FROM read_text('{secret}')) AS INTEGER) = 1")
    assert SECRET not in str(err.value) and "disabled" in str(err.value)


def test_reading_sql_still_works(env, capsys):
    catalog, _, _ = env
    for query in ["SELECT count(*) FROM samples", "EXPLAIN SELECT * FROM samples", "DESCRIBE samples",
                  "SELECT * FROM pragma_table_info('runs')", "WITH x AS (SELECT 1 AS a) SELECT a FROM x"]:
        rc, out, err = _run(capsys, "sql", query, "--catalog", str(catalog))
        assert rc == 0 and err == "", (query, err)


PIVOTS = [  # DuckDB parses a PIVOT without IN (...) as a MULTI statement (a temporary ENUM, then the query)
    "SELECT * FROM (PIVOT (SELECT step, name, value FROM metrics WHERE split = 'holdout') ON name "
    "USING first(value)) ORDER BY step",
    "PIVOT (SELECT step, name, value FROM metrics WHERE split = 'holdout') ON name USING first(value)",
    "WITH p AS (PIVOT (SELECT step, name, value FROM metrics WHERE split = 'holdout') ON name USING first(value)) "
    "SELECT * FROM p",
    "/* a comment */ FROM (PIVOT (SELECT step, name, value FROM metrics WHERE split = 'holdout') ON name "
    "USING first(value))",
    "(PIVOT (SELECT step, name, value FROM metrics WHERE split = 'holdout') ON name USING first(value))",
]


@pytest.mark.parametrize("query", PIVOTS)
def test_read_only_sql_runs_a_pivot_that_lists_no_columns(env, capsys, query):
    catalog, _, _ = env
    before = dump(catalog)
    rc, out, err = _run(capsys, "sql", query, "--json", "--catalog", str(catalog))
    assert rc == 0 and err == "", err
    assert json.loads(out) == [{"step": 10, "fid": 12.0, "loss": 0.4}]
    assert dump(catalog) == before


@pytest.mark.parametrize("query, kind", [
    ("CREATE TEMP TABLE t AS PIVOT metrics ON name USING first(value)", "CREATE"),
    ("-- x\nINSERT INTO metrics SELECT * FROM (PIVOT metrics ON name USING first(value))", "INSERT"),
])
def test_read_only_sql_refuses_a_pivot_statement_that_is_no_query(env, capsys, query, kind):
    catalog, _, _ = env
    rc, out, err = _run(capsys, "sql", query, "--catalog", str(catalog))
    _assert_refused(rc, out, err, why=(f"refused {kind} statement: read-only SQL may only SELECT or EXPLAIN",))


def test_a_pivot_query_that_writes_meets_the_read_only_connection(env, capsys):
    """`WITH ... DELETE` starts like a query; the read-only connection refuses the write."""
    catalog, _, _ = env
    before = dump(catalog)
    query = ("WITH p AS (PIVOT metrics ON name USING first(value)) "
             "DELETE FROM metrics WHERE step IN (SELECT step FROM p)")
    rc, out, err = _run(capsys, "sql", query, "--catalog", str(catalog))
    _assert_refused(rc, out, err, why=("read-only",))
    assert dump(catalog) == before


def test_export_still_writes_parquet_outside_the_sandbox(env, capsys):
    """Export writes with pyarrow (the process), not with the sandboxed DuckDB connection."""
    catalog, tmp, _ = env
    rc, out, err = _run(capsys, "export", "samples", "--out", str(tmp / "s.parquet"), "--catalog", str(catalog))
    assert rc == 0 and "wrote 18 rows" in out, err
    assert Path(tmp / "s.parquet").exists() and not list(tmp.glob(".*.tmp"))


@pytest.mark.parametrize("query, kind, why", [
    ("COPY (PIVOT metrics ON name USING first(value)) TO 'x.csv'", "COPY", "catalog SQL writes no files"),
    ("ATTACH 'x.duckdb' AS x; PIVOT metrics ON name USING first(value)", "ATTACH", "catalog SQL cannot manage transactions")])
def test_our_check_refuses_a_pivot_statement_that_copies_or_attaches_even_when_writing(query, kind, why):
    """Judged by our own check (not only by DuckDB's locked configuration behind it)."""
    from catalog.sandbox import RefusedSQLError, user_statements

    with pytest.raises(RefusedSQLError, match=f"refused {kind} statement: {why}"):
        user_statements(query, write=True)


@pytest.mark.parametrize("query, kind", [
    ("COPY samples TO 'x.csv'", "COPY"), ("EXPORT DATABASE 'dump'", "EXPORT"), ("ATTACH 'x.duckdb' AS x", "ATTACH"),
    ("SET threads = 1", "SET"), ("PRAGMA database_size", "PRAGMA"), ("INSTALL httpfs", "LOAD"), ("BEGIN", "TRANSACTION"),
    ("COPY (PIVOT metrics ON name USING first(value)) TO 'x.csv'", "COPY")])
@pytest.mark.parametrize("write", [False, True], ids=["read-only", "write"])
def test_a_statement_that_write_refuses_too_is_not_told_to_pass_write(env, capsys, query, kind, write):
    """Read-only, they said "pass --write to change the catalog", and --write refused them as well."""
    catalog, _, _ = env
    rc, out, err = _run(capsys, "sql", query, "--catalog", str(catalog), *(["--write"] if write else []))
    _assert_refused(rc, out, err, why=(f"refused {kind} statement: catalog SQL",))
    assert "pass --write" not in err
    if kind in ("COPY", "EXPORT"):
        assert "--csv > FILE" in err and "lumina catalog export" in err


@pytest.mark.parametrize("read_only", [True, False])
def test_no_progress_bar_lands_in_the_output_and_the_configuration_stays_locked(env, read_only):
    """DuckDB drew its progress bar on stdout for a query over 2 s, inside `catalog sql --csv > FILE`.
    (In a fresh process: DuckDB's default depends on what stdout is, and pytest's capture changes it.)"""
    from .helpers import run_py

    catalog, _, _ = env
    code = ("import sys; from catalog import Catalog\n"
            "with Catalog.open(sys.argv[1], read_only=sys.argv[2] == 'ro') as cat:\n"
            "    print(cat.sql(\"SELECT current_setting('enable_progress_bar'), current_setting('lock_configuration')\")[1])\n"
            "    try:\n"
            "        cat.sql('SET enable_progress_bar = true')\n"
            "    except Exception as e:\n"
            "        print('locked' if 'locked' in str(e) else e)\n")
    proc = run_py(code, str(catalog), "ro" if read_only else "rw")
    assert proc.returncode == 0 and proc.stdout.splitlines() == ["[(False, True)]", "locked"], proc.stderr
