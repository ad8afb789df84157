"""The curate driver's memory per input, OLD code against NEW, side by side in one run.

    .venv/bin/python bench/bench_curate_memory.py [--sizes 2000 8000] [--old-commit HASH] [--trace] [--backend local|ray] [--keep DIR]
    .venv/bin/python bench/bench_curate_memory.py --preference [--sizes 2000 8000] [--keep DIR]

For each size N it writes a folder of N images as bench/bench_scale.py does (PNG and JPEG of
32-128 px with .txt captions, ~1% bad), then runs `lumina curate` as the CLI does (flows.steps.curate_step:
curate and register in a catalog), by default without Ray (--backend local: the driver and the
workers are one process; with --backend ray the figures are the driver process's alone), once with the code at --old-commit (a git worktree of it,
made and removed here; default: the commit in /tmp/s47/base, else HEAD~) and once with this checkout,
each in a fresh child process. It prints, per code and size, the child's peak RSS and CPU seconds, the
slope between the two sizes in bytes per input, and whether the catalog rows (key, file, status,
reason), the accepted samples' meta and the samples and verdicts tables whole (every column but the
run ids, compared as digests) are the same for OLD and NEW. With --trace each child also
runs under tracemalloc (slower) and reports the Python heap's peak and what is still held when every
batch file is written, in bytes per input.

With --preference it times instead preprocess/image/preference.keep_preference (near-duplicate
search's ranking, ~37% of the analysis CPU before) OLD against NEW on every image of the larger
folder, in this process (the old module loaded from the worktree's file), and checks the tuples are
the same.

2026-12-06, one shared 2-core machine, OLD = 4ca4908 (session base), 2,000 / 8,000 images, local:
peak RSS 272 / 327 MB OLD, 275 / 324 MB NEW, slope 9.6 -> 8.6 KB an input (RSS slopes vary by ~1 KB
between runs of the same code: OLD gave 8.7, 10.0 and 9.6); with --trace the Python heap the driver
holds once every batch is written 5.60 -> 4.76 KB an input, its peak 6.75 -> 5.96 KB; CPU 33.4 ->
25.8 s at 8,000 (keep_preference 980 -> 677 us an image, --preference: x1.45, tuples identical);
catalog rows and accepted samples' meta identical. With --backend ray (500 / 2,000) the driver's
RSS slope is ~21 KB an input for OLD and NEW alike: most of it is no Python object (its Python heap
holds 7.1 -> 6.1 KB an input); the phases that raise it are the analysis, near-duplicate search
(preprocess/image/dedup.py's band buckets) and the catalog's registration of the batches.

Session 48 (OLD = a98c9f5), --backend ray: peak RSS slope 11.6 -> 8.7 KB an input at 2,000 / 20,000
images (peak 518 -> 467 MB at 20,000; 11.8 -> 10.7 at 2,000 / 8,000), driver CPU alike, rows and meta
identical. The driver's RSS once the analysis is in: 7.7 -> 5.0 KB an input (ObjectRefs dropped as
results arrive, a few tasks in flight: contracts.ray_runtime.stream_tasks; candidates keep the
driver's own inputs, not the copies Ray returns: Stage.adopt; records with slots; equal verdict
scores one float). What remains is the candidates themselves (~4 KB: the image plugin's signature,
verdicts, record and meta) and near-duplicate search (+1.8 KB an input at 20,000).
--backend local: 7.3 -> 6.9 KB an input at 2,000 / 20,000 (peak 380 -> 364 MB, CPU 70.5 -> 68.9 s at
20,000), 8.2 -> 8.0 at 2,000 / 8,000 (within the ~1 KB a slope from one pair of peak RSS figures moves
between runs); its Python heap at batches-written 4.76 -> 4.10 KB an input.

Session 49 (OLD = a69db3c), --backend ray, 2,000 / 20,000 images, three runs on a shared 2-core host:
peak RSS slope 8.2 / 9.1 / 9.1 -> 5.7 / 5.9 / 5.5 KB an input (peak at 20,000 462-471 -> 403-410 MB),
driver CPU alike (12.8-15.3 s OLD, 13.8-16.1 s NEW, as the host's load went), samples and verdicts
tables identical (196,588 verdict rows at 20,000). --backend local --trace, 2,000 / 8,000: the Python
heap held at batches-written 4.10 -> 2.02 KB an input, its peak 5.30 -> 3.56-3.61 KB, CPU alike. What
changed: verdicts held packed (preprocess/packed_verdicts.py: ~1.1 -> ~0.2 KB), no signature once
near-duplicate search is done nor an input for a candidate not accepted, the image colour signature as
48 bytes, the search's band index as arrays (a dict of lists per band value was ~4 KB a candidate
while it ran), the catalog asked 8,192 hashes at a time (catalog.near_duplicates makes its table of
bands from Python objects, ~3 KB a hash), Candidate with slots, rejections batch files of 1,024
inputs (registering one takes ~10 KB an input at once: at 4,096, ~40 MB). The peak is now the
registration, after curate returns. What remains at 20,000 (Ray): the driver's Python objects, ~2.2
KB an input (an accepted input's RawInput, its two Entries, their names and paths, its media and
meta dicts and content digest ~1.15 KB; its record with key, caption and meta (pHash and colour
hex) ~0.85 KB; packed verdicts ~0.17 KB), pymalloc's and glibc's free blocks among the kept objects
(~1.1 KB: freed transients), and what DuckDB takes to register the batches (~0.5-0.7 KB).

Session 49, helper B2 (OLD = 8ea4610, Ray, 2,000 / 20,000): one run gave OLD 315.1 / 399.0 MB, slope
4.89 KB an input (so the slope is at the 5 KB line already, within its ~1 KB run-to-run spread). Where
the driver's RSS goes at 20,000 (2,000), per phase (/proc/self/status at each): listing 158 (135), analysis
+115 (+86), catalogued_samples +9 (+4), near-duplicate search +57 (+49: opening DuckDB is ~38 MB of it
at both sizes), shard writers +10 (+4; ~9 MB of it Ray's object store mapped in), batches written 351
(280); registration then peaks at 393-400 (314). Once curate returns no Candidate, RawInput or record
is alive (gc), and RSS falls only ~8 MB: the rest is freed heap. glibc's malloc_trim there gave back
13 MB before registering, but the peak fell only 3.4 / 3.3 MB (both sizes, no slope change; not
kept): registration touches those pages again. Registration alone (a fresh process, the same batch
files) peaks +89-92 MB over its start at 2,000 and +113-124 MB at 20,000 (~1.5 KB an input of slope),
nearly all DuckDB (Python's traced heap stays ~27-30 MB; RSS after closing the connection is the same at
both sizes): DuckDB threads=1 -8 MB, memory_limit 64MB -6 MB, a CHECKPOINT after each batch -7 MB,
MALLOC_ARENA_MAX 1 or 2 nothing. So the peak is the catalog's registration (catalog/db.py) on top of
the heap curate leaves: the glibc pages malloc_trim frees DuckDB takes again, but the freed Python
objects lie in pymalloc arenas that surviving objects keep, which DuckDB cannot use: once curate
returns (gc'd), pymalloc holds 70 arenas of 1 MiB at 2,000 and 115-118 at 20,000 with the same 62.9 MB
of live blocks at both (sys._debugmallocstats): ~47 MB of free pools pinned by a few survivors, ~2.6 KB
an input of the slope. Importing beforehand what curate imports after the analysis (338 modules:
pandas, dateutil, catalog.near_duplicates, ...) left it at 118. Two probes at 20,000: 31 MB of extra Python objects held from the analysis to curate's end
(allocated together, so freed whole) raised curate's own peak to 384 MB but not the run's (391 MB);
PYTHONMALLOC=malloc gave 311 / 394 MB (2,000 / 20,000), as pymalloc does. What is left to cut: the
driver's heap that stays resident once curate returns (~3.7 KB an input of the slope: the listed inputs
are ~1.3 KB an input before the analysis starts, preprocess/sources.py) or DuckDB's registration memory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(code: str, src: str, home: str, trace: bool, backend: str) -> None:
    """One curate in this process, with the package at `code`; prints one JSON line."""
    sys.path.insert(0, code)
    os.chdir(code)
    import tracemalloc

    import preprocess.curate as pc
    from catalog import Catalog
    from flows.steps import curate_step
    from preprocess.curate import CurateConfig

    held = {}
    if trace:
        real = pc.hold_point

        def hp(name: str) -> None:  # every batch file written: what the driver still holds
            import gc

            gc.collect()
            held[name] = tracemalloc.get_traced_memory()[0]
            real(name)

        pc.hold_point = hp
        tracemalloc.start()
    t = time.process_time()
    before = tracemalloc.get_traced_memory()[0] if trace else 0
    curate_step(src, home, CurateConfig(options={"vae_factor": 1}), backend=backend)
    cpu = time.process_time() - t
    out = {"cpu": cpu, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    if trace:
        out["py_peak"] = tracemalloc.get_traced_memory()[1] - before
        out["py_held"] = held.get("curate.batches-written", 0) - before
        tracemalloc.stop()
    with Catalog.open(Path(home) / "catalog.duckdb", read_only=True) as cat:
        rows = cat.sql("SELECT key, source_uri, status, coalesce(reason, '') FROM samples ORDER BY key, source_uri")[1]
        metas = cat.sql("SELECT key, meta FROM samples WHERE status = 'accepted' ORDER BY key")[1]
        # every column of both tables but the run ids, as one digest each (200k verdict rows at 20,000 images)
        whole = {t: cat.sql(f"SELECT * EXCLUDE ({ex}) FROM {t} ORDER BY ALL")[1]
                 for t, ex in (("samples", "first_run, last_run"), ("verdicts", "run_id"))}
    out["rows"] = [list(map(str, r)) for r in rows]
    out["metas"] = [list(map(str, r)) for r in metas]
    out["tables"] = {t: [len(r), hashlib.sha256(repr(r).encode()).hexdigest()] for t, r in whole.items()}
    print("RESULT " + json.dumps(out))


def run_child(code: Path, src: Path, home: Path, trace: bool, backend: str) -> dict:
    shutil.rmtree(home, ignore_errors=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "RAY_AUTH_MODE": "disabled",
           "OMP_WAIT_POLICY": "PASSIVE", "TQDM_DISABLE": "1", "PYTHONPATH": str(code)}
    p = subprocess.run([sys.executable, __file__, "--child", str(code), str(src), str(home), backend] + (["--trace"] if trace else []),
                       env=env, capture_output=True, text=True, cwd=code)
    line = next((x for x in p.stdout.splitlines() if x.startswith("RESULT ")), None)
    if p.returncode or line is None:
        raise SystemExit(f"child failed ({code}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    shutil.rmtree(home, ignore_errors=True)
    return json.loads(line[len("RESULT "):])


def compare_preference(old_root: Path, folder: Path) -> None:
    """keep_preference OLD and NEW on the same decoded images: CPU seconds (best of 2) and equality."""
    import importlib.util

    import numpy as np

    import preprocess.image.preference as new
    from preprocess.image.decode import decode_image

    spec = importlib.util.spec_from_file_location("old_preference", old_root / "preprocess/image/preference.py")
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    items = []
    for f in sorted(folder.rglob("*")):
        if f.suffix in (".png", ".jpg"):
            data = f.read_bytes()
            try:
                items.append((decode_image(data, 40_000_000), data))
            except Exception:  # noqa: BLE001 - the folder's planted unreadable files
                pass
    sharpness = [float(x) for x in np.random.default_rng(0).uniform(0.01, 20, len(items))]
    cpu, got = {}, {}
    for _ in range(2):
        for label, mod in (("OLD", old), ("NEW", new)):
            t = time.process_time()
            got[label] = [mod.keep_preference(img, data, s) for (img, data), s in zip(items, sharpness)]
            cpu[label] = min(cpu.get(label, 1e9), time.process_time() - t)
    o, w = cpu["OLD"], cpu["NEW"]
    print(f"keep_preference on {len(items)} images: OLD {o:.2f} s CPU ({o / len(items) * 1e6:.0f} us each), NEW {w:.2f} s "
          f"({w / len(items) * 1e6:.0f} us each), x{o / w:.2f}; tuples {'identical' if got['OLD'] == got['NEW'] else 'DIFFER'}")


def base_commit() -> str:
    try:
        return Path("/tmp/s47/base").read_text().strip()
    except OSError:
        return subprocess.check_output(["git", "rev-parse", "HEAD~"], cwd=ROOT, text=True).strip()


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], "--trace" in sys.argv, sys.argv[5])
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs=2, default=(2000, 8000))
    p.add_argument("--old-commit", default=None)
    p.add_argument("--trace", action="store_true", help="also run each child under tracemalloc (Python heap figures)")
    p.add_argument("--backend", choices=("local", "ray"), default="local")
    p.add_argument("--preference", action="store_true", help="time keep_preference OLD vs NEW instead")
    p.add_argument("--keep", help="a folder for the image folders, kept between runs (default: a temporary one)")
    a = p.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.bench_scale import write_folder

    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="bench_curate_memory-"))
    work.mkdir(parents=True, exist_ok=True)
    commit = a.old_commit or base_commit()
    old = work / f"old-{commit[:10]}"
    made_worktree = False
    try:
        if not old.exists():
            subprocess.run(["git", "worktree", "add", "--detach", str(old), commit], cwd=ROOT, check=True, capture_output=True)
            made_worktree = True
        res: dict[tuple[str, int], dict] = {}
        if a.preference:
            src = work / f"src{max(a.sizes)}"
            if not src.exists():
                write_folder(src, max(a.sizes))
            compare_preference(old, src)
            return 0
        for n in a.sizes:
            src = work / f"src{n}"
            if not src.exists():
                write_folder(src, n)
            for label, code in (("OLD", old), ("NEW", ROOT)):
                res[label, n] = run_child(code, src, work / f"home-{label}-{n}", a.trace, a.backend)
    finally:
        if made_worktree:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, capture_output=True)
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    s, l = a.sizes
    print(f"lumina curate --backend {a.backend} of {s} and {l} images: OLD = {commit[:10]}, NEW = this checkout (each a fresh process)")
    cols = [("rss", "peak RSS MB"), ("cpu", "CPU s")] + ([("py_peak", "py peak MB"), ("py_held", "py held MB")] if a.trace else [])
    print(f"{'code':6s}" + "".join(f"{f'{name} {n}':>18s}" for _, name in cols for n in (s, l)) + "".join(
        f"{f'{name} B/input':>20s}" for k, name in cols if k != "cpu"))
    for label in ("OLD", "NEW"):
        r1, r2 = res[label, s], res[label, l]
        line = f"{label:6s}" + "".join(f"{(r1[k] / 2**20 if k != 'cpu' else r1[k]):18.1f}{(r2[k] / 2**20 if k != 'cpu' else r2[k]):18.1f}"
                                      for k, _ in cols)
        line += "".join(f"{(r2[k] - r1[k]) / (l - s):20.0f}" for k, _ in cols if k != "cpu")
        print(line)
    for n in a.sizes:
        o, w = res["OLD", n], res["NEW", n]
        same = o["rows"] == w["rows"]
        print(f"{n}: catalog rows (key, file, status, reason) OLD {len(o['rows'])}, NEW {len(w['rows'])}: "
              f"{'identical' if same else 'DIFFER'}; accepted samples' meta {'identical' if o['metas'] == w['metas'] else 'DIFFER'}; "
              + "; ".join(f"{t} table (every column but run ids, {w['tables'][t][0]} rows) "
                          f"{'identical' if o['tables'][t] == w['tables'][t] else 'DIFFER'}" for t in w["tables"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
