"""Retiring samples (a refresh's removed and superseded files) in a large catalog: the set-based
statements now, side by side with the baseline of two statements per key, each of which scanned
the whole samples table.

    python bench/bench_retire.py [--known 200000] [--retire 500]
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

from bench_near_duplicates import build_catalog

BASELINE_RECORD = ("INSERT INTO sample_status_changes (key, old_status, old_reason, new_status, reason, superseded_by, "
                   "changed_at, run_id) SELECT key, status, reason, $2, $3, $4, $5, $6 FROM samples WHERE key = $1")
BASELINE_SET = "UPDATE samples SET status = $2, reason = $3, last_run = $4 WHERE key = $1"


def baseline(path: Path, keys: list[str], run_id: str) -> None:
    from catalog import Catalog
    from catalog.db import _transaction, utcnow

    with Catalog.open(path) as cat, cat._connection() as con, _transaction(con):
        for key in keys:
            con.execute(BASELINE_RECORD, [key, "removed", "removed: gone", None, utcnow(), run_id])
            con.execute(BASELINE_SET, [key, "removed", "removed: gone", run_id])


def current(path: Path, keys: list[str], run_id: str) -> None:
    from catalog import Catalog
    from catalog.source_index import Retirement, retire

    with Catalog.open(path) as cat:
        retire(cat, [Retirement(k, "removed", "removed: gone") for k in keys], run_id)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--known", type=int, default=200_000)
    p.add_argument("--retire", type=int, default=500)
    a = p.parse_args()
    print(f"{'samples':>8s} {'retired':>8s} {'baseline s':>11s} {'now s':>7s} {'speed-up':>9s}")
    with tempfile.TemporaryDirectory(prefix="bench_retire-") as tmp:
        base_path, now_path = Path(tmp) / "base.duckdb", Path(tmp) / "now.duckdb"
        build_catalog(base_path, a.known, random.Random(0))
        shutil.copy(base_path, now_path)
        keys = [f"{i:032x}" for i in random.Random(1).sample(range(a.known), a.retire)]
        timings = []
        for fn, path in ((baseline, base_path), (current, now_path)):
            t = time.perf_counter()
            fn(path, keys, "bench-run")
            timings.append(time.perf_counter() - t)
        print(f"{a.known:8d} {a.retire:8d} {timings[0]:11.2f} {timings[1]:7.2f} {timings[0] / timings[1]:8.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
