"""Speech near-duplicate search at scale, OLD (preprocess/speech/dedup.py at commit 0579054, loaded
from git) against NEW (the working tree), side by side on the same synthetic takes:

1. within one run: N takes, one in 50 with a planted near copy (noise 0.05, 2% longer);
2. across runs: C new takes (again one in 50 a near copy of a kept take) against K takes earlier
   runs kept (``kept``: in the index before every candidate).

For each: CPU seconds (process_time), the peak of Python allocations during the search
(tracemalloc: the index, not the fingerprints, which the candidates and kept takes hold anyway),
whether every status, reason, matched key and verdict (score, passed) is the same, and how many
planted copies were rejected naming their original.

    python bench/speech_dedup_scale.py                      # within 5k, 20k; across 20k kept (about 2 min CPU)
    python bench/speech_dedup_scale.py --within 65000 --kept 100000 --new 2000
    python bench/speech_dedup_scale.py --no-old --within 65000   # NEW only
    python bench/speech_dedup_scale.py --rss --kept 20000,100000    # across runs: peak RSS, fingerprints in memory or in a file

--rss: each across-runs search in a process of its own (so its peak resident memory, VmHWM, is its
own), the kept takes given as a list holding their fingerprints (``list``: as kept_takes gave them
before), as kept_takes.KeptFingerprints (``file``: in a file without a name in --rss-dir, read back as
compared) and as the same file memory-mapped (``map``: MappedKept). The
kept takes are made 1,000 at a time (synthetic_fingerprints, seeds 11000 + i), so the file's case never
holds them all; the peak is the whole process's (Python, numpy, numba: its floor is said).

Measured 2026-12-07 10:36 UTC on the shared 2-core host (load 2 - 3), 1,000 new takes (20 planted copies)
against K kept; BEFORE: the code at e096fc4 (list) in the same script, AFTER: this bench's --rss. Peak
RSS of the process (floor after imports and compiling: 201 MB), CPU seconds of the search:

    K         BEFORE list         AFTER list          AFTER file          AFTER map
    20,000    528 MB  1.52 s      530 MB  1.52 s      264 MB  1.47 s      519 MB  1.54 s
    100,000   1,795 MB 6.89 s     1,801 MB 6.88 s     449 MB  6.89 s      1,725 MB 7.16 s

Outcomes identical in all eight (sha256 of every status, reason, key and verdict); every planted copy
found. The map gains little: indexing reads every page, and pages read stay resident while mapped.

Takes: bench_speech_dedup.synthetic_fingerprints (8 voices, phone runs, log-normal widths like
helper W's 4,990 real takes: median 311 frames; distinct takes of a similar length 1.2 - 1.9 apart;
about 0.25 ms each to make). Not jittered copies of a pool: their block sums are the pool take's, so
every bound passes and each copy is compared in full with its siblings (an artefact, not speech).
NEW's kernels are compiled before the clock starts (2 - 5 s on this host, once per process: said).

Measured 2026-12-07 at commit 9322cd6 on the shared 2-core host (load 0.5 - 2 from other agents; under
load 5 - 11 an hour before, NEW took 138 s and OLD 386 s at 66k): CPU seconds of this process, OLD and
NEW one after the other; peak: tracemalloc during the search, the fingerprints apart:

    python bench/speech_dedup_scale.py            (about 2 min CPU)
      within one run    5,100 takes      OLD   7.87 s  24.3 MB   NEW  3.98 s  13.0 MB   same: True
      within one run   20,400 takes      OLD  56.15 s  79.7 MB   NEW 19.22 s  50.2 MB   same: True
      1,020 new vs 20,000 kept           OLD   4.88 s  93.8 MB   NEW  2.82 s  48.9 MB   same: True
    python bench/speech_dedup_scale.py --within 65000 --kept 100000 --new 2000   (about 9 min CPU)
      within one run   66,300 takes      OLD 362.45 s 250.3 MB   NEW 102.23 s 162.3 MB  same: True
      2,040 new vs 100,000 kept          OLD  33.49 s 390.7 MB   NEW  16.01 s 236.5 MB  same: True
      (the 100,000 kept takes' fingerprints: 1,340 MB, held by the caller either way)

Every planted copy was found, naming its original, by both. NEW is still about quadratic within a run
(x4.8 then x5.3 per 4x and 3.25x takes here, OLD x7.1 then x6.5): each take is bounded against every
kept take of its 10% window, only some 3x cheaper a take (a memory-bound loop, 100 - 150 ns a kept
take), and across runs the 1.3 GB of fingerprints dominate what the search holds.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import subprocess
import sys
import time
import tracemalloc
import types
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_speech_dedup import synthetic_fingerprints  # noqa: E402
from contracts.records import SampleRecord  # noqa: E402
from preprocess.modality import Candidate  # noqa: E402
from preprocess.speech import dedup  # noqa: E402
from preprocess.speech.kept_takes import KeptFingerprints, KeptTake  # noqa: E402

OLD_COMMIT = "0579054"  # dedup.py before the grouped prefilter and the rooms sized in advance


def old_dedup(commit: str = OLD_COMMIT) -> types.ModuleType:
    repo = Path(__file__).resolve().parents[1]
    src = subprocess.run(["git", "show", f"{commit}:preprocess/speech/dedup.py"], cwd=repo, check=True,
                         capture_output=True, text=True).stdout
    mod = types.ModuleType("dedup_old")
    exec(compile(src, f"{commit}:preprocess/speech/dedup.py", "exec"), mod.__dict__)
    return mod


def candidate(key: str, fp: np.ndarray, dur: float) -> Candidate:
    rec = SampleRecord(key=key, modality="speech", source_uri=f"/c/{key}", split="train", status="accepted", meta={})
    return Candidate(rec, [], SimpleNamespace(name=f"{key}.wav"), (fp, dur))


def near_copy(fp: np.ndarray, dur: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    return (fp.astype(np.float32) + rng.normal(0, 0.05, fp.shape)).astype(np.float16), dur * 1.02


def within_run(sigs: list) -> tuple[list, dict]:
    rng = np.random.default_rng(1)
    cands = [candidate(f"t{i:07d}", fp, d) for i, (fp, d) in enumerate(sigs)]
    planted = {}
    for i in range(0, len(sigs), 50):
        key = f"z{i:07d}"  # named after its original: found as its copy
        cands.append(candidate(key, *near_copy(*sigs[i], rng)))
        planted[key] = f"t{i:07d}"
    return cands, planted


def across_runs(kept_sigs: list, new_sigs: list) -> tuple[list, list, dict]:
    rng = np.random.default_rng(2)
    kept = [KeptTake(SimpleNamespace(key=f"k{i:07d}"), (fp, d)) for i, (fp, d) in enumerate(kept_sigs)]
    cands = [candidate(f"t{i:07d}", fp, d) for i, (fp, d) in enumerate(new_sigs)]
    planted = {}
    for i in range(0, len(new_sigs), 50):
        j = int(rng.integers(len(kept_sigs)))
        cands.append(candidate(f"z{i:07d}", *near_copy(*kept_sigs[j], rng)))
        planted[f"z{i:07d}"] = f"k{j:07d}"
    return kept, cands, planted


def outcome(c: Candidate) -> tuple:
    (v,) = [v for v in c.verdicts if v.filter == "audio_fingerprint_dedup"]
    return c.record.status, c.record.reason, c.record.meta.get("near_duplicate_of"), v.score, v.passed


def timed(mark, cands: list, kept: list | None) -> tuple[float, float]:
    """CPU seconds and the peak MB of Python allocations of one search."""
    tracemalloc.start()
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # the progress bar
            t = time.process_time()
            mark(cands, 0.15, kept)
            cpu = time.process_time() - t
        return cpu, tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def warm_up() -> None:
    """NEW's search once on enough takes of one length that its compiled prefilter is used."""
    rng = np.random.default_rng(0)
    n = dedup.FAR_MIN_ROWS + 2
    cands = [candidate(f"w{i}", rng.normal(-5, 2, (dedup.BANDS, 200)).astype(np.float16), 2.3) for i in range(n)]
    with contextlib.redirect_stderr(io.StringIO()):
        dedup.mark_near_duplicates(cands, 0.15)


def side_by_side(label: str, cands: list, kept: list | None, planted: dict, old) -> None:
    runs = [("NEW", dedup)] + ([("OLD", old)] if old else [])
    got = {}
    for name, mod in runs:
        mine = copy.deepcopy(cands, {id(c.signature[0]): c.signature[0] for c in cands})  # the fingerprints shared
        cpu, peak = timed(mod.mark_near_duplicates, mine, kept)
        got[name] = [outcome(c) for c in mine]
        found = sum(o[2] == planted.get(c.record.key) for c, o in zip(mine, got[name]) if c.record.key in planted)
        print(f"{label:34} {name}  cpu {cpu:8.2f} s  peak {peak:8.1f} MB  rejected {sum(o[0] == 'rejected' for o in got[name]):6d}  "
              f"planted copies found {found}/{len(planted)}", flush=True)
    if old:
        print(f"{label:34} same statuses, reasons, keys, scores: {got['NEW'] == got['OLD']}", flush=True)


def kept_made_in_chunks(k: int, chunk: int = 1000):
    """(fingerprint, duration) of ``k`` kept takes, made ``chunk`` at a time."""
    for c in range(0, k, chunk):
        yield from synthetic_fingerprints(min(chunk, k - c), seed=11000 + c // chunk)


def vm(field: str) -> float:
    """/proc/self/status's ``field`` (VmHWM: the peak resident memory; VmRSS: now) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


class MappedKept(KeptFingerprints):
    """The same file read back as memory-mapped views (helper G's proposal): the pages read stay in the
    process's resident memory (file-backed) while the map lives, so indexing, which reads them all,
    brings the peak back near the fingerprints' size (measured: --rss's ``map``)."""

    _map = None

    def fingerprint(self, i: int) -> np.ndarray:
        if self._map is None:
            self._file.flush()
            self._map = np.memmap(self._file, np.float16, "r")
        at, n = self._at[i] // 2, self._rows[i] * self._cols[i]
        return self._map[at : at + n].reshape(self._rows[i], self._cols[i])


def rss_child(mode: str, k: int, new: int, folder: str) -> int:
    """One across-runs search, the kept fingerprints in memory (``list``) or in a file (``file``);
    prints one JSON line: CPU and wall seconds (making the kept takes, then the search), VmHWM, and a
    digest of the outcomes."""
    import hashlib
    import json

    warm_up()
    floor = vm("VmRSS")
    rng = np.random.default_rng(2)
    originals = {int(rng.integers(k)): f"z{i:07d}" for i in range(0, new, 50)}  # kept take -> its planted copy
    copies, planted = [], {}
    kept = [] if mode == "list" else KeptFingerprints(folder) if mode == "file" else MappedKept(folder)
    t, wall = time.process_time(), time.perf_counter()
    for j, (fp, d) in enumerate(kept_made_in_chunks(k)):
        if mode == "list":
            kept.append(KeptTake(SimpleNamespace(key=f"k{j:07d}"), (fp, d)))
        else:
            kept.append(f"k{j:07d}", fp, d)
        if j in originals:
            copies.append(candidate(originals[j], *near_copy(fp, d, rng)))
            planted[originals[j]] = f"k{j:07d}"
    made, made_wall = time.process_time() - t, time.perf_counter() - wall
    cands = [candidate(f"t{i:07d}", fp, d) for i, (fp, d) in enumerate(synthetic_fingerprints(new, seed=12))] + copies
    with contextlib.redirect_stderr(io.StringIO()):
        t, wall = time.process_time(), time.perf_counter()
        dedup.mark_near_duplicates(cands, 0.15, kept)
        cpu, wall = time.process_time() - t, time.perf_counter() - wall
    got = [outcome(c) for c in cands]
    found = sum(o[2] == planted.get(c.record.key) for c, o in zip(cands, got) if c.record.key in planted)
    print(json.dumps({"made": made, "made_wall": made_wall, "cpu": cpu, "wall": wall, "hwm": vm("VmHWM"), "floor": floor,
                      "found": found, "planted": len(planted), "rejected": sum(o[0] == "rejected" for o in got),
                      "digest": hashlib.sha256(repr(got).encode()).hexdigest()[:16]}))
    return 0


def rss_side_by_side(kept_sizes: list[int], new: int, folder: str) -> None:
    import json

    for k in kept_sizes:
        res = {}
        for mode in ("list", "file", "map"):
            out = subprocess.run([sys.executable, __file__, "--rss-child", mode, str(k), str(new), folder],
                                 check=True, capture_output=True, text=True).stdout
            r = res[mode] = json.loads(out.strip().splitlines()[-1])
            print(f"{new} new vs {k} kept, fingerprints in a {mode:4}  peak RSS {r['hwm']:7.0f} MB (floor {r['floor']:.0f})  "
                  f"search cpu {r['cpu']:6.2f} s wall {r['wall']:6.2f} s  (making the kept takes {r['made']:.1f} s)  "
                  f"rejected {r['rejected']}  planted copies found {r['found']}/{r['planted']}  outcomes {r['digest']}", flush=True)
        same = res["list"]["digest"] == res["file"]["digest"] == res["map"]["digest"]
        print(f"{new} new vs {k} kept: same statuses, reasons, keys, scores: {same}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--within", default="5000,20000", help="takes in one run, comma separated (0: none)")
    ap.add_argument("--kept", default="20000", help="takes earlier runs kept, comma separated (0: none)")
    ap.add_argument("--new", type=int, default=1000, help="new takes against the kept ones")
    ap.add_argument("--no-old", action="store_true", help="NEW only (OLD is about quadratic: 217 s at 65k)")
    ap.add_argument("--rss", action="store_true", help="across runs only: peak RSS with the kept fingerprints in memory and in a file")
    ap.add_argument("--rss-dir", default=".", help="where --rss's file is made (not a memory-backed /tmp)")
    ap.add_argument("--rss-child", nargs=4, metavar=("MODE", "KEPT", "NEW", "DIR"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.rss_child:
        mode, k, new, folder = a.rss_child
        return rss_child(mode, int(k), int(new), folder)
    if a.rss:
        rss_side_by_side([int(s) for s in a.kept.split(",") if int(s)], a.new, a.rss_dir)
        return 0
    sizes = [int(s) for s in a.within.split(",") if int(s)]
    kept_sizes = [int(s) for s in a.kept.split(",") if int(s)]
    old = None if a.no_old else old_dedup()
    t = time.perf_counter()
    warm_up()
    print(f"NEW's prefilter compiled in {time.perf_counter() - t:.1f} s (once per process)")
    for n in sizes:
        cands, planted = within_run(synthetic_fingerprints(n, seed=10))
        side_by_side(f"within one run, {len(cands)} takes", cands, None, planted, old)
    for k in kept_sizes:
        kept_sigs = synthetic_fingerprints(k, seed=11)
        kept, cands, planted = across_runs(kept_sigs, synthetic_fingerprints(a.new, seed=12))
        fp_mb = sum(t.signature[0].nbytes for t in kept) / 1e6
        print(f"across runs: {k} kept takes hold {fp_mb:.0f} MB of fingerprints (float16, the input)")
        side_by_side(f"across runs, {len(cands)} new vs {k} kept", cands, kept, planted, old)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
