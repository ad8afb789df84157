"""What user SQL may do: sandboxed connections, statement checks, and `--where` predicates.

Every catalog connection is opened with ``SANDBOX_CONFIG`` (``sandboxed_connect``): DuckDB may read and write its own
database file and nothing else (no other file, no other database, no extension install or load)
and the configuration is locked, so no statement can switch that back on. On top of it:

- read-only SQL (`lumina catalog sql` without ``--write``) may only be SELECT or EXPLAIN (a
  dynamic PIVOT, one without ``IN (...)``, parses as a MULTI statement: judged by its first keyword);
- writing SQL may not manage transactions, attach, copy, export, load, set or pragma, and runs in
  one transaction that is rolled back if it changed the definition of one of the catalog's own
  tables and views, or the rows of ``schema_version`` (``schema_fingerprint``);
- a ``--where`` predicate is parsed by DuckDB into one expression and re-rendered from the parse
  tree (``canonical_predicate``), so what is pasted into a statement is exactly one expression.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from typing import Any

import duckdb

from .errors import CatalogError

# DuckDB settings of every catalog connection. enable_external_access=false still lets DuckDB
# use its own database file (and WAL); lock_configuration makes SET/RESET/PRAGMA of any option fail.
SANDBOX_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}
# Session settings no connect-time config can give: set (by ``sandboxed_connect``) before the lock.
# DuckDB draws a progress bar on stdout for a query running over 2 s: it landed inside `--csv > FILE`.
SANDBOX_SESSION = ("SET enable_progress_bar = false",)


def sandboxed_connect(database: str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """duckdb.connect with SANDBOX_CONFIG and SANDBOX_SESSION; the configuration locked last.

    DuckDB keeps one database instance per file in a process, and lock_configuration is the
    instance's: while another connection to the file is open here (a held catalog, a writer
    thread), the instance is locked already (sandboxed by the connection that opened it: DuckDB
    refuses a connection whose config differs) and no SET can run, so the session settings are
    skipped. That connection keeps DuckDB's default progress bar; `lumina catalog sql` opens the
    only connection of its process, which gets the SET."""
    with _CONNECTING:
        return _connect_and_lock(database, read_only)


# Two threads opening the same file at once both found the instance unlocked, and the second one's
# SET then met the first one's lock ("the configuration has been locked"): one connects at a time.
_CONNECTING = threading.Lock()


def _connect_and_lock(database: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(database, read_only=read_only, config={**SANDBOX_CONFIG, "lock_configuration": False})
    try:
        # fetchall: a result left unfinished (fetchone) made DuckDB 2 refuse this connection's next
        # streamed query (to_arrow_reader: a refresh's load_index, a trainer's manifest hashes)
        if con.execute("SELECT current_setting('lock_configuration')").fetchall()[0][0]:
            return con
        for statement in SANDBOX_SESSION:
            con.execute(statement)
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con

_T = duckdb.StatementType
READ_STATEMENTS = frozenset({_T.SELECT, _T.EXPLAIN})
# Refused even with --write: each would reach outside the catalog, change the connection, or end
# the transaction that guards schema_version. (The sandbox refuses the file access regardless.)
REFUSED_WHEN_WRITING = frozenset({_T.ATTACH, _T.DETACH, _T.COPY, _T.COPY_DATABASE, _T.EXPORT, _T.LOAD, _T.SET,
                                  _T.VARIABLE_SET, _T.PRAGMA, _T.TRANSACTION, _T.EXTENSION})

# Of those, the ones that write files: the refusal points to what does (--csv > FILE, export).
FILE_WRITING_KINDS = frozenset({"COPY", "COPY_DATABASE", "EXPORT"})

# A PIVOT without an IN list makes DuckDB parse the statement as MULTI (it first creates a temporary
# ENUM of the pivot values, then runs the statement), so a MULTI is judged by its first keyword.
# Read-only: one that starts like a query; the read-only connection refuses any write regardless
# (a `WITH ... INSERT`). Writing: not one that starts like a refused statement.
MULTI_READ_KEYWORDS = frozenset({"SELECT", "WITH", "FROM", "PIVOT", "UNPIVOT", "VALUES", "(", "EXPLAIN",
                                 "DESCRIBE", "SHOW", "SUMMARIZE"})
MULTI_REFUSED_WHEN_WRITING = frozenset({"ATTACH", "DETACH", "COPY", "EXPORT", "IMPORT", "LOAD", "INSTALL", "FORCE",
                                        "SET", "RESET", "PRAGMA", "BEGIN", "START", "COMMIT", "END", "ROLLBACK",
                                        "ABORT", "USE"})


class RefusedSQLError(CatalogError):
    """User SQL that the catalog does not run (one-line message; the CLI exits 2)."""


def _first_line(err: BaseException) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[0] if lines else type(err).__name__


def first_keyword(statement: str) -> str:
    """The statement's first token, upper-cased, comments skipped ('(' for a parenthesised query)."""
    for pos, kind in duckdb.tokenize(statement):
        if kind == duckdb.token_type.comment:
            continue
        m = re.match(r"[A-Za-z_]+", statement[pos:])
        return m.group(0).upper() if m else statement[pos]
    return ""


def user_statements(query: str, write: bool) -> list[str]:
    """The statements of ``query`` if the mode allows all of them; else RefusedSQLError."""
    try:
        stmts = duckdb.extract_statements(query)
    except (duckdb.Error, ValueError) as e:  # ValueError: a statement type the Python client does not know
        raise RefusedSQLError(f"cannot parse the SQL: {_first_line(e)}") from None
    if not stmts:
        raise RefusedSQLError("no SQL statement given")
    for st in stmts:
        kind = st.type.name
        if st.type == _T.MULTI:
            kind = first_keyword(st.query)
            readable, refused = kind in MULTI_READ_KEYWORDS, kind in MULTI_REFUSED_WHEN_WRITING
        else:
            readable, refused = st.type in READ_STATEMENTS, st.type in REFUSED_WHEN_WRITING
        # refused in either mode: judged first, so that no message says "pass --write" for them
        if refused and kind in FILE_WRITING_KINDS:
            raise RefusedSQLError(f"refused {kind} statement: catalog SQL writes no files; for a CSV file use "
                                  "`lumina catalog sql \"SELECT ...\" --csv > FILE`, for Parquet `lumina catalog "
                                  "export NAME --out FILE.parquet`")
        if refused:
            raise RefusedSQLError(f"refused {kind} statement: catalog SQL cannot manage transactions, attach, copy, "
                                  "export, load extensions, set options or run pragmas, with or without --write")
        if not write and not readable:
            raise RefusedSQLError(f"refused {kind} statement: read-only SQL may only SELECT or EXPLAIN "
                                  "(pass --write to change the catalog)")
    return [st.query for st in stmts]


def unshown_results(query: str) -> int:
    """How many statements of ``query`` before its last are queries (SELECT, EXPLAIN, a dynamic
    PIVOT), whose rows `lumina catalog sql` runs and drops: it prints the last statement's result
    only, so `SELECT 1; SELECT 2` (or a pasted block of the README's examples) showed one answer
    and said nothing of the others. 0 for SQL that does not parse (user_statements says why)."""
    try:
        stmts = duckdb.extract_statements(query)
    except (duckdb.Error, ValueError):
        return 0
    return sum(1 for st in stmts[:-1] if st.type in READ_STATEMENTS
               or (st.type == _T.MULTI and first_keyword(st.query) in MULTI_READ_KEYWORDS))


@functools.cache
def own_relations() -> frozenset[str]:
    """The names of the tables and views the migrations make: the catalog's own (a user's --write
    may add and drop others)."""
    from .sqlfiles import migrations

    con = duckdb.connect(":memory:", config=SANDBOX_CONFIG)
    try:
        for mig in migrations():
            con.execute(mig.sql)
        return frozenset(r[0] for r in con.execute(_RELATIONS).fetchall())
    finally:
        con.close()


_RELATIONS = ("SELECT table_name, 'table', sql FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary "
              "UNION ALL SELECT view_name, 'view', sql FROM duckdb_views() WHERE schema_name = 'main' "
              "AND NOT temporary AND NOT internal")


def schema_fingerprint(con: duckdb.DuckDBPyConnection) -> tuple[tuple, tuple]:
    """The definitions of the catalog's own tables and views (their CREATE statements, as DuckDB
    keeps them) and the rows of ``schema_version``: a write that changes any is rolled back. A
    dropped or altered `samples` (`DROP TABLE samples CASCADE`) left a catalog no command could read."""
    own = own_relations()
    ddl = tuple(sorted(r for r in con.execute(_RELATIONS).fetchall() if r[0] in own))
    if not any(name == "schema_version" for name, _, _ in ddl):
        return ddl, ()
    return ddl, tuple(con.execute("SELECT version, name, applied_at FROM main.schema_version ORDER BY ALL").fetchall())


def schema_change(before: tuple[tuple, tuple], after: tuple[tuple, tuple]) -> list[str]:
    """The own tables and views whose definition (or, for schema_version, rows) differ."""
    b = {name: (kind, sql) for name, kind, sql in before[0]}
    a = {name: (kind, sql) for name, kind, sql in after[0]}
    changed = sorted(n for n in b.keys() | a.keys() if b.get(n) != a.get(n))
    if before[1] != after[1] and "schema_version" not in changed:
        changed.append("schema_version")
    return changed


@functools.lru_cache(maxsize=256)  # a pure function of the text; each call opened an in-memory DuckDB (~40 ms)
def canonical_predicate(where: str) -> str:
    """``where`` parsed as one SQL expression over ``samples`` and rendered back by DuckDB.

    Refused (ValueError): empty text, more than one statement, anything that turns the selection
    into something other than ``SELECT * FROM samples WHERE <expression>`` (a closing parenthesis
    followed by UNION, ORDER BY, ...). Subqueries inside the expression are allowed: candidates are
    always re-read from ``samples`` with status 'accepted', and they run on a sandboxed connection.
    """
    if not where or not where.strip():
        raise ValueError("a manifest needs a --where predicate (e.g. \"modality = 'image'\")")
    if "\x00" in where:
        raise ValueError("invalid predicate: it contains a NUL character")
    template = "SELECT * FROM samples WHERE ({where})"
    shape_error = f"invalid predicate {where!r}: it must be one boolean expression over `samples`"
    try:
        if len(duckdb.extract_statements(template.format(where=where))) != 1:
            raise ValueError(shape_error + " (no ';')")
    except (duckdb.Error, ValueError) as e:
        raise ValueError(str(e) if str(e).startswith("invalid predicate") else
                         f"invalid predicate {where!r}: {_first_line(e)}") from None
    con = duckdb.connect(":memory:", config=SANDBOX_CONFIG)
    try:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?::VARCHAR)", [template.format(where=where)]
                                      ).fetchall()[0][0])
        if tree.get("error"):
            raise ValueError(f"invalid predicate {where!r}: {tree.get('error_message', 'syntax error')}")
        stmts = tree["statements"]
        node = stmts[0]["node"] if len(stmts) == 1 else {}
        frm = node.get("from_table") or {}
        sel = node.get("select_list") or []
        if not (node.get("type") == "SELECT_NODE" and frm.get("type") == "BASE_TABLE"
                and frm.get("table_name") == "samples" and not frm.get("schema_name") and not frm.get("catalog_name")
                and not frm.get("alias") and len(sel) == 1 and sel[0].get("class") == "STAR"
                and not node.get("modifiers") and not node.get("group_expressions") and node.get("having") is None
                and node.get("qualify") is None and node.get("sample") is None
                and not (node.get("cte_map") or {}).get("map") and node.get("where_clause")):
            raise ValueError(shape_error)
        rendered = con.execute("SELECT json_deserialize_sql(?::JSON)", [json.dumps(tree)]).fetchall()[0][0]
    except duckdb.Error as e:
        raise ValueError(f"invalid predicate {where!r}: {_first_line(e)}") from None
    finally:
        con.close()
    prefix = "SELECT * FROM samples WHERE "
    if not rendered.startswith(prefix):  # DuckDB renders its own tree; anything else is a surprise
        raise ValueError(f"invalid predicate {where!r}: could not be rendered as one expression")
    return rendered[len(prefix):].rstrip().rstrip(";")
