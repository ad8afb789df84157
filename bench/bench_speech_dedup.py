"""Speech near-duplicate marking, OLD (version 1: every take against every kept take of a similar
length, the full distance each time) against NEW (preprocess/speech/dedup.py, version 2: lower bounds
from running sums rule out takes beyond the score cap, the rest compared in full), side by side.

    python bench/bench_speech_dedup.py [--sizes 500,1000,2000] [--shards DIR] [--takes 300]
    python bench/bench_speech_dedup.py --synthetic --old v2 --sizes 4000,16000,64000

Fingerprints: the real ones of the curated shards under ``--shards`` (a home of `lumina curate`), or
else of ``--takes`` espeak-ng takes synthesised and curated here (bench_speech_scale's folder). At
each size: the real takes, then jittered copies of them (another take of a similar length, far from
every other), and one near copy in 50 (noise 0.05, 2% longer: a near duplicate to find). For each:
CPU (process_time) of OLD and NEW, the ratio, NEW's full distances against OLD's (the pairs of a
similar length), and whether every status, reason, matched key and verdict is the same, the score
identical where OLD's is within the cap and the cap where OLD's is beyond it (99.0 both where
nothing was comparable). The takes carry no metadata, so NEW's preference order (sample rate,
lossless, loudness, then the name) is OLD's name order.

Measured 2026-12-06 on the shared 2-core machine (load 1.6-3.5), CPU seconds, the 4,990 real
fingerprints of helper W's 5,000-take walk (--shards of its curated home):

     takes   OLD s  NEW s  ratio     pairs  full NEW  same statuses/reasons/keys, scores within cap
       510    1.31   0.18   7.2x     14723        10  True, True (10 planted copies rejected)
      1020    5.50   0.39  14.0x     57662        20  True, True (20)
      2040   23.04   1.12  20.5x    239288        40  True, True (40)

(earlier steps at 510 / 1020 / 2040: float64 running sums, runs of the overlap: 0.31 / 0.93 / 2.07 s;
block sums of 32 then 8 frames, each offset: 0.19 / 0.47 / 1.59 s.)
With --old v2, OLD is version 2's first form (commit a98c9f5: block sums of 16 then 8 frames over every
kept take of the 10% window) and NEW its duration buckets (64 then 16 frames); --synthetic draws the
takes instead of reading shards (synthetic_fingerprints: 8 voices, distinct takes 1.23-1.95 apart),
and one in 50 gets a near copy. 2026-12-06, shared 2-core machine (load 4-6), CPU seconds:

     takes  OLD(v2) s  NEW s  ratio  full OLD  full NEW  same  rejected  B/take NEW  OLD
      4080       5.25   2.66   2.0x        80      1194  True        80        3062  5043
     16320      57.17  21.20   2.7x       320     19374  True       320        3309  5050
     65280    1085.24 216.82   5.0x      1280    319390  True      1280        3309  5055


(B/take: the index's arrays per kept take, NEW's with the room its doubling arrays keep; the
fingerprints, 40 B a frame, are the candidates' either way.) Still about quadratic: each take's
bounds cover the kept takes of its window, only cheaper (NEW x8.0 then x10.2 per 4x takes, OLD x10.9
then x19.0): some 8 min at 100k takes (OLD: 45 min), half a day at 1M. NEW compares more pairs in full
(about 5 a take at 64k: no 8-frame level any more; some 16 s of the 217). An exact index that fetches fewer was looked
for and not found, on helper W's 4,990 real fingerprints (pairs within 10% in duration, all
1.24-2.2 apart): the per-band means over the shared frames rule out 60% of them at the cap 0.5 (a
KD-tree over them would still return 40% of the window), 4 / 8 / 16 segments of all 20 bands 84 /
98.3 / 99.9% (80 to 320 numbers: no KD-tree), projections on principal directions at most 35%, a
ball tree (L1) over 340 block sums took as long as the plain scan, and the pigeonhole on single
16-frame blocks leaves 30% (pauses). Near-linear growth would need a smaller radius than the score
cap (scores exact only within the threshold: a version 3).

With few real takes (--takes 40) the jittered copies of one take share its runs, their bounds fall
within the cap and more of them are compared in full (85% ruled out at 204 takes): a corpus artefact.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts.records import SampleRecord, VerdictRecord  # noqa: E402
from preprocess.modality import Candidate  # noqa: E402
from preprocess.speech import dedup  # noqa: E402


def old_mark_near_duplicates(cands: list, max_distance: float) -> None:
    """Version 1 (commit 9a37d54), as it was but for the counter of full distances."""
    kept: list = []
    for c in sorted((c for c in cands if c.accepted and c.signature is not None), key=lambda c: (c.source.name if c.source else "", c.record.key)):
        fp, dur = c.signature
        best, best_d = None, float("inf")
        for other in kept:
            ofp, odur = other.signature
            if abs(dur - odur) <= 0.1 * max(dur, odur):
                d = dedup.distance(fp, ofp)
                if d < best_d:
                    best, best_d = other, d
        passed = best_d > max_distance
        score = min(best_d, 99.0)
        c.verdicts.append(VerdictRecord(c.record.key, "audio_fingerprint_dedup", "1", score, max_distance, passed))
        if not passed:
            c.record = replace(c.record, status="rejected", reason=f"audio_fingerprint_dedup: near duplicate of {best.record.key} (distance {best_d:.3f})")
            c.record.meta["near_duplicate_of"] = best.record.key
            continue
        kept.append(c)


def real_fingerprints(shards: list[str]) -> list[tuple[np.ndarray, float]]:
    from contracts.shards import iter_samples, npy_load

    out = []
    for uri in shards:
        for _, f in iter_samples(uri):
            mel = npy_load(f["mel.npy"])
            out.append((dedup.fingerprint(mel), mel.shape[1] * 256 / 22050))
    return out


def synthetic_fingerprints(n: int, seed: int = 1, voices: int = 8) -> list[tuple[np.ndarray, float]]:
    """``n`` distinct speech-like fingerprints without audio: per voice a spectral envelope and 40
    phone spectra (smooth across bands), a take a run of phones of 4-15 frames (5% pauses), frame noise
    0.3; widths log-normal like helper W's 4,990 real takes (5/50/95%: 99/311/590 frames). Distinct
    takes of a similar length are 1.23-1.95 apart (median 1.54; the real ones 1.31-2.37, median 1.84)."""
    from preprocess.speech.dedup import BANDS

    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, BANDS)
    books = []
    for _ in range(voices):
        env = -3.2 - 3.0 * x * rng.uniform(0.6, 1.4) + rng.normal(0, 0.4, BANDS)
        dev = rng.normal(0, 1.1, (40, BANDS))
        dev = np.stack([np.convolve(r, [0.25, 0.5, 0.25], "same") for r in dev]) * 1.6
        books.append(env + dev)
    out = []
    for _ in range(n):
        book = books[rng.integers(voices)]
        w = int(np.clip(np.exp(rng.normal(np.log(311), 0.39)), 40, 1000))
        fp = np.empty((BANDS, w), np.float32)
        t = 0
        while t < w:
            run = int(rng.integers(4, 16))
            level = np.full(BANDS, -8.5) + rng.normal(0, 0.3, BANDS) if rng.random() < 0.05 else book[rng.integers(40)] * rng.uniform(0.9, 1.1)
            fp[:, t : t + run] = level[:, None]
            t += run
        fp += rng.normal(0, 0.3, fp.shape)
        out.append((fp.astype(np.float16), w * 256 / 22050))
    return out


def version2_first_form(commit: str = "a98c9f5"):
    """preprocess/speech/dedup.py as it was at ``commit`` (version 2 before its duration buckets: block
    sums of 16 then 8 frames over every kept take of the 10% window), a module of its own."""
    import subprocess
    import types

    repo = Path(__file__).resolve().parents[1]
    src = subprocess.run(["git", "show", f"{commit}:preprocess/speech/dedup.py"], cwd=repo, check=True, capture_output=True, text=True).stdout
    mod = types.ModuleType("dedup_v2_first_form")
    exec(compile(src, f"{commit}:preprocess/speech/dedup.py", "exec"), mod.__dict__)
    return mod


def index_bytes(cands: list) -> tuple[float, float]:
    """Bytes per kept take of NEW's index (its bucket arrays) and of the first form's (per kept take
    15 B a frame and 32 B), both without the fingerprints, which the candidates hold anyway."""
    index = dedup._Kept()
    frames = 0
    for c in cands:
        if c.accepted:
            fp, dur = c.signature
            index.add(fp, float(dur), dedup._prefix(fp))
            frames += fp.shape[1]
    kept = max(len(index.fps), 1)
    new = sum(sum(s.nbytes for s in b.sums) + b.kept.nbytes + b.width.nbytes + b.dur.nbytes for b in index.buckets.values())
    return new / kept, (15 * frames + 32 * kept) / kept


def corpus(real: list, n: int) -> list[Candidate]:
    rng, cands = np.random.default_rng(0), []

    def add(key: str, fp: np.ndarray, dur: float) -> None:
        rec = SampleRecord(key=key, modality="speech", source_uri=f"/c/{key}", split="train", status="accepted", meta={})
        cands.append(Candidate(rec, [], SimpleNamespace(name=f"{key}.wav"), (fp, dur)))

    for i in range(n):
        fp, d = real[i % len(real)]
        if i >= len(real):
            fp, d = (fp.astype(np.float32) + rng.normal(0, 1.0, fp.shape)).astype(np.float16), d * rng.uniform(0.95, 1.05)
        add(f"t{i:06d}", fp, d)
    for i in range(0, n, 50):
        fp, d = cands[i].signature
        add(f"z{i:06d}", (fp.astype(np.float32) + rng.normal(0, 0.05, fp.shape)).astype(np.float16), d * 1.02)
    return cands


def outcome(c: Candidate, cap: float | None) -> tuple:
    (v,) = [v for v in c.verdicts if v.filter == "audio_fingerprint_dedup"]
    score = v.score if cap is None or v.score <= cap or v.score == 99.0 else cap
    return c.record.status, c.record.reason, c.record.meta.get("near_duplicate_of"), score, v.passed, v.threshold


def compare(real: list, n: int, max_distance: float = 0.15, old: str = "v1") -> dict:
    import copy

    base = corpus(real, n)
    old_cands, new = copy.deepcopy(base), copy.deepcopy(base)
    mods = [dedup] if old == "v1" else [dedup, version2_first_form()]
    old_mark = old_mark_near_duplicates if old == "v1" else mods[1].mark_near_duplicates
    calls = [0]
    full = [m.distance for m in mods]

    def counting(f):
        def count(a, b):
            calls[0] += 1
            return f(a, b)
        return count

    for m, f in zip(mods, full):
        m.distance = counting(f)
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # the progress bars
            t = time.process_time()
            old_mark(old_cands, max_distance)
            t_old, pairs = time.process_time() - t, calls[0]
            calls[0] = 0
            t = time.process_time()
            dedup.mark_near_duplicates(new, max_distance)
            t_new = time.process_time() - t
    finally:
        for m, f in zip(mods, full):
            m.distance = f
    cap = max(dedup.SCORE_CAP, 2.0 * max_distance)
    same = all(outcome(a, cap) == outcome(b, None) for a, b in zip(old_cands, new))
    within = [(outcome(a, None)[3], outcome(b, None)[3]) for a, b in zip(old_cands, new) if outcome(a, None)[3] <= cap]
    per_take, per_take_old = index_bytes(new)
    return {"takes": len(base), "old": t_old, "new": t_new, "pairs": pairs, "full": calls[0], "same": same,
            "within_cap": len(within), "within_identical": all(x == y for x, y in within),
            "rejected": sum(not c.accepted for c in old_cands), "bytes": per_take, "bytes_old": per_take_old}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="500,1000,2000")
    ap.add_argument("--shards", help="a folder holding curated speech shards (curated-*.tar)")
    ap.add_argument("--takes", type=int, default=300, help="takes to synthesise and curate without --shards")
    ap.add_argument("--synthetic", action="store_true", help="synthetic speech-like fingerprints, no audio (sizes up to 64k and more)")
    ap.add_argument("--old", choices=("v1", "v2"), default="v1",
                    help="OLD: version 1 (every pair of a similar length in full) or version 2's first form (commit a98c9f5)")
    a = ap.parse_args()
    for k, v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_WAIT_POLICY": "PASSIVE"}.items():
        os.environ.setdefault(k, v)
    tmp = None
    try:
        if a.synthetic:
            shards = []
        elif a.shards:
            shards = sorted(str(p) for p in Path(a.shards).rglob("curated-*.tar"))
        else:
            from bench.bench_speech_scale import curate_cpu, write_takes

            tmp = Path(tempfile.mkdtemp(prefix="bench_speech_dedup-"))
            write_takes(tmp / "takes", a.takes)
            curate_cpu(tmp / "takes", tmp / "home", old=False)
            shards = sorted(str(p) for p in (tmp / "home").rglob("curated-*.tar"))
        real = synthetic_fingerprints(max(int(s) for s in a.sizes.split(",") if s)) if a.synthetic else real_fingerprints(shards)
        print(f"{len(real)} {'synthetic' if a.synthetic else 'real'} fingerprints; durations 5/50/95%: {np.percentile([d for _, d in real], [5, 50, 95]).round(2)} s")
        print(f"{'takes':>6} {'OLD s':>8} {'NEW s':>7} {'ratio':>6} {'pairs' if a.old == 'v1' else 'full OLD':>9} {'full NEW':>8} {'ruled out':>9}  same  within-cap identical  rejected  B/take NEW OLD(v2)")
        for n in (int(s) for s in a.sizes.split(",") if s):
            r = compare(real, n, old=a.old)
            ruled = f"{1 - r['full'] / max(r['pairs'], 1):.3%}" if a.old == "v1" else "-"  # v2: pairs is OLD's full distances
            print(f"{r['takes']:6d} {r['old']:8.2f} {r['new']:7.2f} {r['old'] / max(r['new'], 1e-3):5.1f}x {r['pairs']:9d} {r['full']:8d} "
                  f"{ruled:>9}  {r['same']!s:5} {r['within_identical']!s:5} ({r['within_cap']})  {r['rejected']}  {r['bytes']:.0f} {r['bytes_old']:.0f}", flush=True)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
