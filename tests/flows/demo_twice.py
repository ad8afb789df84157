"""`lumina demo` twice in one process, as the console script runs it (flows.cli.main), sharing the
imports (torch, transformers, Prefect, Ray's client): the end-to-end test's second run then costs only
what really runs again (tests/multiview/demo_twice.py does the same for multi-view). Writes
{"first": summary, "second": summary, "counts": [row counts after each run]}.

    python -m tests.flows.demo_twice HOME CONFIG OUT_JSON
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

TABLES = ("samples", "verdicts", "shards", "encodings", "runs", "checkpoints")


def row_counts(catalog: Path, tables: tuple[str, ...] = TABLES) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(catalog), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    finally:
        con.close()


def run_demo(home: str, config: str, *options: str) -> dict:
    from flows.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["demo", *options, "--home", home, "--config", config, "--json"])
    text = out.getvalue()
    assert code == 0, text[-3000:]
    return json.loads(text[text.index("{\n"):])


def demo_twice(home: str, config: str) -> dict:
    first = run_demo(home, config)
    counts = [row_counts(Path(home) / "catalog.duckdb")]
    second = run_demo(home, config)
    counts.append(row_counts(Path(home) / "catalog.duckdb"))
    return {"first": first, "second": second, "counts": counts}


if __name__ == "__main__":
    home, config, out_path = sys.argv[1:4]
    Path(out_path).write_text(json.dumps(demo_twice(home, config), default=str))
