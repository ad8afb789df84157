"""Incremental refresh against a full re-run, on a source of N small image-caption pairs.

    python bench/bench_refresh.py --inputs 10000 --new-percent 1 [--text minilm] [--out DIR]

Builds N generated 32x32 PNGs with captions, then times, each in its own workspace where it matters:
  full      curate + encode of the whole source from scratch (what every run did before refresh);
  first     the first refresh of the source (also a full ingest, plus the source index);
  noop      a refresh with nothing new (lists, stats, compares: no hashing, no run, no rows);
  1% new    a refresh after adding new-percent % more files (only those are curated and encoded).
Everything runs in this process without Ray (backend local) so the figures compare the work done,
not the scheduler. Times are wall-clock seconds on whatever else the machine is doing.

    python bench/bench_refresh.py --listing-memory 250000 1000000 [--baseline REV] [--variants old new]

The listing's memory instead: peak RSS of a refresh of a synthetic source of N entries (N/2 image +
caption pairs named like webdataset tar members, read from one small file: no real files), the
first (every entry new and hashed) and a no-op one, each in its own process, with this tree (new)
and with the tree of commit REV (old, default: the last commit before the listing was staged in
DuckDB). Curation is stubbed out: what is measured is listing, hashing, the diff and the index.

    python bench/bench_refresh.py --costs 200 [--changes 5] [--rounds 3] [--live] [--baseline REV]

What a refresh of an unchanged or slightly changed source costs besides its work, old tree (commit
REV, default: the session start before one connection per stretch of catalog calls) against this
one, side by side, each variant in its own processes (alternating, medians of --rounds): catalog
connections opened and DuckDB instances started (a connection while none other to the file is open
here: ~40 ms, half of it CPU), wall and CPU seconds (the process's, DuckDB's threads included) of a
no-op refresh of N 32x32 image-caption pairs and of one after --changes of them were rewritten
(curated and encoded again: local backend, phone text features, no model), what `import
flows.refresh` costs (Prefect or not) in a process of its own, and a whole `lumina refresh` process
of the unchanged source. --live: with a live manifest (as `lumina refresh --live`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

WORDS = ["red", "green", "blue", "noisy", "bright", "dark", "speckled", "small", "square", "tile"]


def write_source(root: Path, start: int, count: int, seed: int = 0) -> None:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + start)
    for i in range(start, start + count):
        base = rng.integers(0, 256, 3)
        pixels = np.clip(base + rng.normal(0, 60, (32, 32, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(root / f"img_{i:06d}.png")
        words = rng.choice(WORDS, 4)
        (root / f"img_{i:06d}.txt").write_text(f"a {' '.join(words)} picture number {i}")


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


BASELINE = "36d595f~1"  # the last commit before the refresh's listing was staged in DuckDB (ListingStage)


def synthetic_lister(n: int, blob: str):
    """list_entries stand-in: n entries (pairs of .png and .txt tar members, 5,000 pairs per tar),
    each reading 200 bytes at its own offset of ``blob`` (distinct content, nothing else on disk)."""
    from preprocess.sources import Entry

    span = os.path.getsize(blob) - 256

    def list_entries(spec):
        out = []
        for i in range(n):
            member = f"{i // 2:09d}{'.png' if i % 2 == 0 else '.txt'}"
            tar = f"shard-{i // 10_000:05d}.tar"
            out.append(Entry(f"{tar}/{member}", f"/data/corpus/{tar}#{member}", 200, ("tar", blob, member, i * 4099 % span, 200)))
        return out
    return list_entries


def _rss_mb(peak: bool) -> float:
    import resource

    if peak:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def listing_child(n: int, work: Path) -> None:
    """One refresh of the synthetic source in this process (the tree on sys.path[0]); prints JSON."""
    import json

    from contracts.env import apply_offline_env

    apply_offline_env()
    import preprocess.refresh as planner
    from flows.refresh import refresh_source

    planner.curate_inputs = lambda plan, *a, **k: planner.IncrementalCuration([], [], {}, {}, {}, {})
    planner.list_entries = synthetic_lister(10, str(work / "blob.bin"))
    refresh_source(str(work / "warm-up.tar"), work / "warm-up", backend="local")  # imports what a refresh imports
    planner.list_entries = synthetic_lister(n, str(work / "blob.bin"))
    base = _rss_mb(peak=False)
    t = time.perf_counter()
    result = refresh_source(str(work / "synthetic.tar"), work / "home", backend="local")
    print(json.dumps({"seconds": time.perf_counter() - t, "base_mb": base, "peak_mb": _rss_mb(peak=True),
                      "noop": result.noop, "hashed": result.plan["hashed"]}))


def listing_memory(sizes: list[int], variants: list[str], baseline: str) -> None:
    """Peak RSS of first and no-op refreshes of synthetic sources, old tree against new, side by side."""
    import json
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    work = Path(tempfile.mkdtemp(prefix="bench_refresh_listing_"))
    try:
        trees = {"new": repo}
        if "old" in variants:
            trees["old"] = work / "old-tree"
            trees["old"].mkdir()
            archive = subprocess.run(["git", "-C", str(repo), "archive", baseline], check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(trees["old"])], input=archive, check=True)
        (work / "blob.bin").write_bytes(np.random.default_rng(0).bytes(1 << 20))
        results: dict[tuple[str, int, str], dict] = {}
        for n in sizes:
            for variant in variants:
                run = work / f"{variant}-{n}"
                run.mkdir()
                (run / "blob.bin").symlink_to(work / "blob.bin")
                for phase in ("first", "noop"):
                    env = {**os.environ, "PYTHONPATH": str(trees[variant])}
                    out = subprocess.run([sys.executable, __file__, "--listing-child", str(n), "--out", str(run)], env=env,
                                         cwd=trees[variant], check=True, capture_output=True, text=True).stdout
                    results[variant, n, phase] = r = json.loads(out.strip().splitlines()[-1])
                    print(f"{variant:4s} {n:>10,} entries {phase:6s} peak {r['peak_mb']:7.0f} MB "
                          f"(+{r['peak_mb'] - r['base_mb']:6.0f} over the {r['base_mb']:.0f} MB after imports) "
                          f"{r['seconds']:6.1f} s", flush=True)
        if len(variants) == 2:
            print(f"\n{'entries':>10s} {'phase':6s} {'old peak':>9s} {'new peak':>9s} {'ratio':>6s}  "
                  f"{'old +':>7s} {'new +':>7s} {'ratio':>6s}  {'old s':>6s} {'new s':>6s}")
            for n in sizes:
                for phase in ("first", "noop"):
                    o, w = results["old", n, phase], results["new", n, phase]
                    grow_o, grow_w = o["peak_mb"] - o["base_mb"], w["peak_mb"] - w["base_mb"]
                    print(f"{n:>10,} {phase:6s} {o['peak_mb']:7.0f}MB {w['peak_mb']:7.0f}MB {o['peak_mb'] / w['peak_mb']:5.2f}x  "
                          f"{grow_o:5.0f}MB {grow_w:5.0f}MB {grow_o / grow_w:5.2f}x  {o['seconds']:6.1f} {w['seconds']:6.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


COSTS_BASELINE = "43f3259"  # the session start (2026-12-06): a connection per catalog call, Prefect imported
LIVE = "live=modality = 'image'"
IMPORT_PROBE = """
import json, sys, time
t, c = time.perf_counter(), time.process_time()
import flows.refresh
print(json.dumps({"wall": time.perf_counter() - t, "cpu": time.process_time() - c, "prefect": "prefect" in sys.modules}))
"""


def costs_child(work: Path, changes: int, live: bool) -> None:
    """One variant's figures (the tree on sys.path[0]), as one JSON line: import, no-op, changed."""
    import json

    from contracts.env import apply_offline_env

    apply_offline_env()
    import catalog.db as db
    from catalog.source_index import LiveManifest
    from flows.refresh import refresh_source
    from preprocess.curate import CurateConfig
    from preprocess.encode import EncodeConfig

    counts = {"connections": 0, "instances": 0, "open": 0}
    real = db.sandboxed_connect

    class Counted:  # a catalog connection whose close is seen: an instance starts when none is open
        def __init__(self, con):
            self._con = con

        def __getattr__(self, name):
            return getattr(self._con, name)

        def close(self):
            if self._con is not None:
                counts["open"] -= 1
                self._con.close()

    def counting(*a, **k):
        con = real(*a, **k)
        counts["connections"] += 1
        counts["instances"] += counts["open"] == 0
        counts["open"] += 1
        return Counted(con)

    db.sandboxed_connect = counting
    lv = [LiveManifest("live", LIVE.partition("=")[2], train_min_growth=1)] if live else None
    args = (CurateConfig(modality="image"), EncodeConfig(text="phone"))
    refresh = lambda: refresh_source(str(work / "source"), work / "home", *args, live=lv, backend="local")  # noqa: E731
    refresh()  # the first: every input curated (not measured)
    out = {}
    for phase in ("noop", "changed"):
        if phase == "changed":
            write_source(work / "source", 0, changes, seed=7)  # the first `changes` pairs rewritten: new bytes
        counts.update(connections=0, instances=0)
        t, c = time.perf_counter(), time.process_time()
        result = refresh()
        out[phase] = {"wall": time.perf_counter() - t, "cpu": time.process_time() - c, "connections": counts["connections"],
                      "instances": counts["instances"], "noop": result.noop, "superseded": result.superseded}
    print(json.dumps(out))


def refresh_costs(n: int, changes: int, rounds: int, live: bool, baseline: str) -> None:
    """Old tree against this one, side by side: see the docstring (--costs)."""
    import json
    import resource
    import statistics
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    work = Path(tempfile.mkdtemp(prefix="bench_refresh_costs_"))
    try:
        trees = {"new": repo, "old": work / "old-tree"}
        trees["old"].mkdir()
        archive = subprocess.run(["git", "-C", str(repo), "archive", baseline], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(trees["old"])], input=archive, check=True)
        write_source(work / "source-0", 0, n)
        runs: dict[str, list[dict]] = {"old": [], "new": []}
        for r in range(rounds):
            for variant in ("old", "new") if r % 2 == 0 else ("new", "old"):
                run = work / f"{variant}-{r}"
                shutil.copytree(work / "source-0", run / "source")
                (run / "encode.yaml").write_text("text: phone\n")
                env = {**os.environ, "PYTHONPATH": str(trees[variant]), "OMP_NUM_THREADS": "1"}
                done = subprocess.run([sys.executable, str(trees["new"] / "bench" / "bench_refresh.py"), "--costs-child",
                                       str(run), "--changes", str(changes), *(["--live"] if live else [])], env=env,
                                      cwd=trees[variant], capture_output=True, text=True)
                if done.returncode:
                    raise SystemExit(f"{variant}: {done.stderr[-3000:]}")
                runs[variant].append(x := json.loads(done.stdout.strip().splitlines()[-1]))
                t = time.perf_counter()  # the import alone, in a process of its own
                probe = subprocess.run([sys.executable, "-c", IMPORT_PROBE], env=env, cwd=trees[variant], capture_output=True,
                                       text=True, check=True)
                x["import"] = json.loads(probe.stdout)
                t, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)  # `lumina refresh`: no-op
                cli = subprocess.run([sys.executable, "-c", "import sys; from flows.cli import main; sys.exit(main())", "refresh",
                                      str(run / "source"), "--home", str(run / "home"), "--modality", "image", "--local",
                                      "--encode-config", str(run / "encode.yaml"), *(["--live", LIVE] if live else [])],
                                     env=env, cwd=trees[variant], capture_output=True, text=True)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if cli.returncode or "nothing new" not in cli.stdout:
                    raise SystemExit(f"{variant}: lumina refresh: {cli.stdout[-1000:]}{cli.stderr[-3000:]}")
                x["cli"] = {"wall": time.perf_counter() - t,
                            "cpu": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime}
                shutil.rmtree(run, ignore_errors=True)

        def med(variant: str, phase: str, key: str) -> float:
            return statistics.median(x[phase][key] for x in runs[variant])

        print(f"refresh of {n} image-caption pairs{' with a live manifest' if live else ''}: old = {baseline}, new = this "
              f"tree; medians of {rounds} rounds (each its own processes, alternating)")
        print(f"{'':34s}{'old':>9s}{'new':>9s}{'old/new':>9s}")
        rows = [("import flows.refresh", "import", "wall", "s wall"), ("", "import", "cpu", "s CPU")]
        for phase, title in (("noop", "no-op refresh"), ("changed", f"refresh, {changes} changed")):
            rows += [(title, phase, "connections", "connections"), ("", phase, "instances", "DuckDB instances"),
                     ("", phase, "wall", "s wall"), ("", phase, "cpu", "s CPU")]
        rows += [("`lumina refresh`", "cli", "wall", "s wall"), ("(no-op, a process)", "cli", "cpu", "s CPU")]
        for title, phase, key, unit in rows:
            o, w = med("old", phase, key), med("new", phase, key)
            fmt = "{:9.0f}" if key in ("connections", "instances") else "{:9.3f}"
            print(f"{title:20s}{unit:>14s}" + fmt.format(o) + fmt.format(w) + (f"{o / w:8.2f}x" if w else "      -"))
        print(f"Prefect imported by `import flows.refresh`: old {runs['old'][0]['import']['prefect']}, "
              f"new {runs['new'][0]['import']['prefect']}; the CPU of `lumina refresh` counts its whole process")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listing-memory", type=int, nargs="+", metavar="N",
                    help="measure the listing's peak memory at these source sizes instead (see the docstring)")
    ap.add_argument("--variants", nargs="+", default=["old", "new"], choices=["old", "new"])
    ap.add_argument("--baseline", help=f"the old tree's commit (--listing-memory: {BASELINE}, --costs: {COSTS_BASELINE})")
    ap.add_argument("--listing-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--costs", type=int, metavar="N", help="a no-op and a slightly changed refresh of N pairs, old tree "
                    "against this one (see the docstring)")
    ap.add_argument("--changes", type=int, default=5, help="--costs: pairs rewritten before the second refresh")
    ap.add_argument("--rounds", type=int, default=3, help="--costs: rounds (medians)")
    ap.add_argument("--live", action="store_true", help="--costs: with a live manifest")
    ap.add_argument("--costs-child", help=argparse.SUPPRESS)
    ap.add_argument("--inputs", type=int, default=10_000)
    ap.add_argument("--new-percent", type=float, default=1.0)
    ap.add_argument("--text", default="minilm", help="text encoder (minilm default, phone: no model)")
    ap.add_argument("--out", help="work folder (default: a temp folder, removed afterwards)")
    a = ap.parse_args()
    if a.listing_child:
        return listing_child(a.listing_child, Path(a.out))
    if a.listing_memory:
        return listing_memory(a.listing_memory, a.variants, a.baseline or BASELINE)
    if a.costs_child:
        return costs_child(Path(a.costs_child), a.changes, a.live)
    if a.costs:
        return refresh_costs(a.costs, a.changes, a.rounds, a.live, a.baseline or COSTS_BASELINE)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from contracts.env import apply_offline_env

    apply_offline_env()
    from flows.refresh import refresh_source
    from flows.steps import curate_step, encode_step
    from preprocess.curate import CurateConfig
    from preprocess.encode import EncodeConfig

    work = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="bench_refresh_"))
    src = work / "source"
    enc = EncodeConfig(text=a.text)
    cfg = CurateConfig(modality="image")
    try:
        t_write, _ = timed(lambda: write_source(src, 0, a.inputs))
        print(f"wrote {a.inputs} inputs in {t_write:.1f} s")
        t_full, _ = timed(lambda: (curate_step(str(src), str(work / "full"), cfg, backend="local"),
                                   encode_step(str(work / "full"), "image", enc, backend="local")))
        t_first, first = timed(lambda: refresh_source(str(src), work / "incr", cfg, enc, backend="local"))
        t_noop, noop = timed(lambda: refresh_source(str(src), work / "incr", cfg, enc, backend="local"))
        assert noop.noop
        n_new = max(1, round(a.inputs * a.new_percent / 100))
        write_source(src, a.inputs, n_new, seed=1)
        t_new, new = timed(lambda: refresh_source(str(src), work / "incr", cfg, enc, backend="local"))
        assert new.plan["inputs_to_curate"] == n_new, new.plan
        print()
        print(f"source: {a.inputs} image-caption pairs (32x32 PNG), text encoder {a.text}, backend local")
        print(f"{'full re-run (curate+encode)':32s}{'first refresh':>16s}{'no-op refresh':>16s}{f'+{n_new} new ({a.new_percent:g}%)':>18s}")
        print(f"{t_full:30.1f} s{t_first:14.1f} s{t_noop:14.2f} s{t_new:16.1f} s")
        print(f"no-op stages {noop.seconds}; {a.new_percent:g}% stages {new.seconds}")
    finally:
        if not a.out:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
