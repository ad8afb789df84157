"""Re-freezing a manifest whose selection did not change (every refresh does it per live manifest):
time and the process's peak RSS with the digest comparison now, side by side with the baseline two-way EXCEPT
of members and encodings, each in its own process.

    python bench/bench_manifest_refreeze.py [--members 200000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BASELINE_DIFF = """
SELECT
    (SELECT count(*) FROM (
        (SELECT key, caption, split, CAST(meta AS VARCHAR) FROM _sel
         EXCEPT SELECT key, caption, split, CAST(meta AS VARCHAR) FROM manifest_members WHERE manifest = $1 AND version = $2)
        UNION ALL
        (SELECT key, caption, split, CAST(meta AS VARCHAR) FROM manifest_members WHERE manifest = $1 AND version = $2
         EXCEPT SELECT key, caption, split, CAST(meta AS VARCHAR) FROM _sel)))
  + (SELECT count(*) FROM (
        (SELECT key, kind, encoder_fingerprint, shard_uri, member FROM _sel_enc
         EXCEPT SELECT key, kind, encoder_fingerprint, shard_uri, member FROM manifest_encodings WHERE manifest = $1 AND version = $2)
        UNION ALL
        (SELECT key, kind, encoder_fingerprint, shard_uri, member FROM manifest_encodings WHERE manifest = $1 AND version = $2
         EXCEPT SELECT key, kind, encoder_fingerprint, shard_uri, member FROM _sel_enc))) = 0
"""


def build(path: Path, members: int) -> None:
    sys.path.insert(0, str(REPO))
    from catalog import Catalog
    from tests.catalog.helpers import make_batch

    with Catalog.open(path) as cat:
        run = cat.start_run("curate", {"source": "synthetic"})
        cat.register_batches([make_batch(b, n=1000, status_cycle=("accepted",)) for b in range(members // 1000)], run)
        cat.finish_run(run)
        cat.freeze_manifest("m", "modality = 'image'")
        with cat._connection() as con:
            con.execute("CHECKPOINT")  # else each child replays the write-ahead log on open, which dominates its memory


def child(path: str, mode: str) -> dict:
    """One re-freeze in this process; the baseline swaps the comparison query for the EXCEPT one."""
    import catalog.db as db
    from catalog import Catalog

    if mode == "baseline":
        real = db.q
        db.q = lambda name: BASELINE_DIFF if name == "manifest_same" else real(name)
    with Catalog.open(path) as cat:
        t = time.perf_counter()
        header = cat.freeze_manifest("m", "modality = 'image'")
        seconds = time.perf_counter() - t
    return {"seconds": seconds, "version": header.version,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # the process's peak RSS


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--members", type=int, default=200_000)
    p.add_argument("--child", nargs=2, metavar=("CATALOG", "MODE"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(child(*a.child)))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench_refreeze-") as tmp:
        path = Path(tmp) / "catalog.duckdb"
        build(path, a.members)
        res = {}
        for mode in ("baseline", "now"):
            out = subprocess.run([sys.executable, __file__, "--child", str(path), mode], capture_output=True, text=True,
                                 cwd=REPO, check=True)
            res[mode] = json.loads(out.stdout.strip().splitlines()[-1])
            assert res[mode]["version"] == 1, res  # unchanged: the same version either way
    b, n = res["baseline"], res["now"]
    print(f"{'members':>8s} {'baseline s':>11s} {'MiB':>6s} {'now s':>7s} {'MiB':>6s} {'speed-up':>9s}")
    print(f"{a.members:8d} {b['seconds']:11.2f} {b['peak_mib']:6.0f} {n['seconds']:7.2f} {n['peak_mib']:6.0f} "
          f"{b['seconds'] / n['seconds']:8.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
