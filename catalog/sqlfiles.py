"""Named SQL statements, loaded from ``.sql`` files.

Every statement the catalog runs lives in ``catalog/queries/*.sql`` under a header line
``-- name: <statement_name>`` (the aiosql convention), and is run with bound ``?`` parameters.
Schema changes live in ``catalog/migrations/NNN_<title>.sql`` and are applied in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

HERE = Path(__file__).parent
QUERIES_DIR = HERE / "queries"
MIGRATIONS_DIR = HERE / "migrations"

_NAME = re.compile(r"^--\s*name:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")
_MIGRATION = re.compile(r"^(\d{3})_([A-Za-z0-9_]+)\.sql$")


@cache
def _all_queries() -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted(QUERIES_DIR.glob("*.sql")):
        name, lines = None, []
        for line in path.read_text().splitlines() + ["-- name: _end_"]:
            m = _NAME.match(line)
            if m:
                if name is not None:
                    if name in out:
                        raise RuntimeError(f"duplicate SQL statement name {name!r} in {path.name}")
                    out[name] = "\n".join(lines).strip().rstrip(";")
                name, lines = m.group(1), []
            elif name is not None:
                lines.append(line)
    return out


def q(name: str) -> str:
    """The text of the named statement (KeyError if no .sql file defines it)."""
    try:
        return _all_queries()[name]
    except KeyError:
        raise KeyError(f"no SQL statement named {name!r} in {QUERIES_DIR}") from None


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@cache
def migrations() -> tuple[Migration, ...]:
    """All migrations, ordered by version; versions must be 1, 2, 3 ... with no gaps."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        m = _MIGRATION.match(path.name)
        if not m:
            raise RuntimeError(f"migration file {path.name} is not named NNN_title.sql")
        found.append(Migration(int(m.group(1)), m.group(2), path.read_text()))
    for i, mig in enumerate(found, start=1):
        if mig.version != i:
            raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {mig.version} at {i}")
    return tuple(found)


def schema_version() -> int:
    """The schema version this code writes (the highest migration)."""
    return len(migrations())
