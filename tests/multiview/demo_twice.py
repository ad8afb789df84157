"""`lumina demo` twice in one process, as the console script runs it (flows.cli.main), sharing one
Prefect server, Ray and the imports: the end-to-end test's second run then costs only the stages
that really run again; then a third after the curated and encoded shards were deleted. Writes
{"first": summary, "second": summary, "third": summary, "counts": [rows after each]}.

    python -m tests.multiview.demo_twice HOME CONFIG OUT_JSON
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from tests.flows import demo_twice as image_demo

TABLES = ("samples", "verdicts", "shards", "encodings", "checkpoints")


def row_counts(catalog: Path) -> dict[str, int]:
    return image_demo.row_counts(catalog, TABLES)


def run_demo(home: str, config: str) -> dict:
    return image_demo.run_demo(home, config, "--modality", "multiview")


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
