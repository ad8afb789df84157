"""Speech near-duplicate marking, OLD (version 1: every take against every kept take of a similar
length, the full distance each time) against NEW (preprocess/speech/dedup.py, version 2: lower bounds
from running sums rule out takes beyond the score cap, the rest compared in full), side by side.

    python bench/bench_speech_dedup.py [--sizes 500,1000,2000] [--shards DIR] [--takes 300]

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


def compare(real: list, n: int, max_distance: float = 0.15) -> dict:
    import copy

    base = corpus(real, n)
    old, new = copy.deepcopy(base), copy.deepcopy(base)
    calls = [0]
    full = dedup.distance

    def counting(a, b):
        calls[0] += 1
        return full(a, b)

    dedup.distance = counting
    try:
        t = time.process_time()
        old_mark_near_duplicates(old, max_distance)
        t_old, pairs = time.process_time() - t, calls[0]
        calls[0] = 0
        with contextlib.redirect_stderr(io.StringIO()):  # the progress bar
            t = time.process_time()
            dedup.mark_near_duplicates(new, max_distance)
            t_new = time.process_time() - t
    finally:
        dedup.distance = full
    cap = max(dedup.SCORE_CAP, 2.0 * max_distance)
    same = all(outcome(a, cap) == outcome(b, None) for a, b in zip(old, new))
    within = [(outcome(a, None)[3], outcome(b, None)[3]) for a, b in zip(old, new) if outcome(a, None)[3] <= cap]
    return {"takes": len(base), "old": t_old, "new": t_new, "pairs": pairs, "full": calls[0], "same": same,
            "within_cap": len(within), "within_identical": all(x == y for x, y in within),
            "rejected": sum(not c.accepted for c in old)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="500,1000,2000")
    ap.add_argument("--shards", help="a folder holding curated speech shards (curated-*.tar)")
    ap.add_argument("--takes", type=int, default=300, help="takes to synthesise and curate without --shards")
    a = ap.parse_args()
    for k, v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_WAIT_POLICY": "PASSIVE"}.items():
        os.environ.setdefault(k, v)
    tmp = None
    try:
        if a.shards:
            shards = sorted(str(p) for p in Path(a.shards).rglob("curated-*.tar"))
        else:
            from bench.bench_speech_scale import curate_cpu, write_takes

            tmp = Path(tempfile.mkdtemp(prefix="bench_speech_dedup-"))
            write_takes(tmp / "takes", a.takes)
            curate_cpu(tmp / "takes", tmp / "home", old=False)
            shards = sorted(str(p) for p in (tmp / "home").rglob("curated-*.tar"))
        real = real_fingerprints(shards)
        print(f"{len(real)} real fingerprints; durations 5/50/95%: {np.percentile([d for _, d in real], [5, 50, 95]).round(2)} s")
        print(f"{'takes':>6} {'OLD s':>8} {'NEW s':>7} {'ratio':>6} {'pairs':>9} {'full NEW':>8} {'ruled out':>9}  same  within-cap identical  rejected")
        for n in (int(s) for s in a.sizes.split(",") if s):
            r = compare(real, n)
            print(f"{r['takes']:6d} {r['old']:8.2f} {r['new']:7.2f} {r['old'] / max(r['new'], 1e-3):5.1f}x {r['pairs']:9d} {r['full']:8d} "
                  f"{1 - r['full'] / max(r['pairs'], 1):8.3%}  {r['same']!s:5} {r['within_identical']!s:5} ({r['within_cap']})  {r['rejected']}", flush=True)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
