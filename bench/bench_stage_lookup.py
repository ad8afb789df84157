"""The refresh stage's uri -> name lookup (ListingStage.names_of) for N uris: a list parameter, as
it was, against the registered Arrow column it uses now, alternately in one process, medians.

    python bench/bench_stage_lookup.py [--uris 1000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from catalog.source_index import ListingStage  # noqa: E402

AS_IT_WAS = """SELECT uri, name FROM (SELECT uri, name, 1 AS rank, idx FROM inputs UNION ALL SELECT uri, name, 0, idx FROM leftovers)
WHERE uri IN (SELECT unnest(CAST($1 AS VARCHAR[])))
QUALIFY row_number() OVER (PARTITION BY uri ORDER BY rank DESC, idx DESC) = 1"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--uris", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    folder = tempfile.mkdtemp(prefix="bench_stage_")
    try:
        with ListingStage(folder) as stage:
            uris = [f"/data/corpus/shard-{k // 5000:05d}.tar#{k:09d}.png" for k in range(a.uris)]
            stage._insert("inputs", pa.table({"idx": pa.array(np.arange(a.uris)), "name": pa.array(uris), "uri": pa.array(uris)}))
            ways = {"list parameter (before)": lambda: dict(stage._con.execute(AS_IT_WAS, [sorted(set(uris))]).fetchall()),
                    "registered column (now)": lambda: stage.names_of(uris)}
            times: dict[str, list[float]] = {k: [] for k in ways}
            for _ in range(a.rounds):
                for name, way in ways.items():
                    start = time.perf_counter()
                    assert len(way()) == a.uris
                    times[name].append(time.perf_counter() - start)
        before, now = (statistics.median(t) for t in times.values())
        print(f"names_of, {a.uris} uris, median of {a.rounds}: list parameter {before:.2f} s, registered column {now:.2f} s: "
              f"{before / now:.2f}x")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
