"""`lumina demo` twice in one process, as the console script runs it (flows.cli.main), sharing one
Prefect server, Ray and the imports: the end-to-end test's second run then costs only the stages
that really run again; then a third after the curated and encoded shards were deleted. Writes
{"first": summary, "second": summary, "third": summary, "counts": [rows after each]}.

    python -m tests.multiview.demo_twice HOME CONFIG OUT_JSON
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
from pathlib import Path

TABLES = ("samples", "verdicts", "shards", "encodings", "checkpoints")


def row_counts(catalog: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(catalog), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


def run_demo(home: str, config: str) -> dict:
    from flows.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["demo", "--modality", "multiview", "--home", home, "--config", config, "--json"]) == 0
    text = out.getvalue()
    return json.loads(text[text.index("{\n"):])


def demo_twice(home: str, config: str) -> dict:
    from flows.local_prefect import local_prefect_server

    with local_prefect_server():
        first = run_demo(home, config)
        counts = [row_counts(Path(home) / "catalog.duckdb")]
        second = run_demo(home, config)
        counts.append(row_counts(Path(home) / "catalog.duckdb"))
        for stage in ("curated", "encoded"):  # shards deleted under a cached curation: curated again
            shutil.rmtree(Path(home) / stage)
        third = run_demo(home, config)
        counts.append(row_counts(Path(home) / "catalog.duckdb"))
    return {"first": first, "second": second, "third": third, "counts": counts}


if __name__ == "__main__":
    home, config, out_path = sys.argv[1:4]
    Path(out_path).write_text(json.dumps(demo_twice(home, config), default=str))
