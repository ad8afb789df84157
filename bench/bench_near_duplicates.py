"""Near-duplicate search across runs at catalog scale: time and rows returned when a curate of M
new images is compared with N accepted images of earlier runs (random 256-bit pHashes, so almost
none are near), side by side with the baseline query that returned every sample sharing a band.

    python bench/bench_near_duplicates.py [--known 20000] [--candidates 1000 10000]

With 16-bit bands, a known sample shares some band with one of 10k random candidates with
probability 1 - (1 - 10k/65536)^16 (93%): the baseline hands nearly the whole catalog to Python.
Its plan is also slow for few candidates: 392 s for 1000 against 100k known (2026-12-05), so the
default stays at 20k known.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import pyarrow as pa

BASELINE_SQL = """
SELECT DISTINCT s.key, s.source_uri, s.meta->>'phash', s.meta->>'colour_signature'
FROM samples s
CROSS JOIN range(16) AS r(b)
JOIN candidate_bands c ON c.band = r.b AND c.value = substr(s.meta->>'phash', 61 - 4 * r.b, 4)
WHERE s.modality = $1 AND s.status = 'accepted' AND s.meta->>'phash' IS NOT NULL
  AND s.meta->>'colour_signature' IS NOT NULL
ORDER BY s.key
"""


def build_catalog(path: Path, n: int, rng: random.Random) -> list[int]:
    """n accepted images with stored signatures, written in one INSERT; returns their pHashes."""
    from catalog import Catalog

    hashes = [rng.getrandbits(256) for _ in range(n)]
    colour = bytes(48).hex()
    rows = pa.table({
        "key": [f"{i:032x}" for i in range(n)],
        "source_uri": [f"/data/old/{i:07d}.png" for i in range(n)],
        "meta": [f'{{"phash": "{h:064x}", "colour_signature": "{colour}"}}' for h in hashes],
    })
    with Catalog.open(path) as cat:
        run = cat.start_run("curate", {"source": "/data/old"})
        with cat._connection() as con:
            con.register("rows", rows)
            con.execute("INSERT INTO samples (key, modality, source_uri, split, meta, status, first_run, last_run) "
                        "SELECT key, 'image', source_uri, 'train', meta::JSON, 'accepted', $1, $1 FROM rows", [run])
            con.unregister("rows")
        cat.finish_run(run)
    return hashes


def baseline(path: Path, phashes: list[int]) -> int:
    from catalog import Catalog
    from catalog.near_duplicates import band_values

    bands = sorted({bv for h in phashes for bv in band_values(h)})
    table = pa.table({"band": [b for b, _ in bands], "value": [v for _, v in bands]})
    with Catalog.open(path, read_only=True) as cat, cat._connection() as con:
        con.register("candidate_bands", table)
        rows = con.execute(BASELINE_SQL, ["image"]).fetchall()
        con.unregister("candidate_bands")
    return len(rows)


def current(path: Path, phashes: list[int]) -> int:
    from catalog.near_duplicates import signatures_sharing_a_band

    return len(signatures_sharing_a_band(path, "image", phashes, set(), set()))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--known", type=int, nargs="+", default=[20_000])
    p.add_argument("--candidates", type=int, nargs="+", default=[1_000, 10_000])
    a = p.parse_args()
    rng = random.Random(0)
    print(f"{'known':>8s} {'new':>6s} {'baseline s':>11s} {'rows':>8s} {'now s':>7s} {'rows':>5s} {'speed-up':>9s}")
    with tempfile.TemporaryDirectory(prefix="bench_near_dups-") as tmp:
        for n in a.known:
            path = Path(tmp) / f"catalog-{n}.duckdb"
            known = build_catalog(path, n, rng)
            for m in a.candidates:
                new = [rng.getrandbits(256) for _ in range(m - 1)] + [known[0] ^ 0b1011]  # one near copy (3 bits)
                t = time.perf_counter()
                base_rows = baseline(path, new)
                base_s = time.perf_counter() - t
                t = time.perf_counter()
                now_rows = current(path, new)
                now_s = time.perf_counter() - t
                print(f"{n:8d} {m:6d} {base_s:11.2f} {base_rows:8d} {now_s:7.2f} {now_rows:5d} {base_s / now_s:8.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
