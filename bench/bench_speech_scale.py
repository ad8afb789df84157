"""A team's own speech folder through curation, the shard writer OLD against NEW side by side, and
near-duplicate marking at growing sizes.

    python bench/bench_speech_scale.py [--takes 300] [--dedup 250,500,1000,2000] [--out DIR]

It synthesises ``--takes`` espeak-ng takes (sentences of 2-15 words with numbers, dates, money and
clock times; 8 voices, rates 120-220, pitches 25-75; WAV and FLAC with a .txt beside each), then:

1. the shard writer per accepted take: OLD (curation.prepare again, every measurement of the analysis
   included, as before commit "Speech shard writer makes only the audio and log-mel it stores") and
   NEW (SpeechPlugin.curated_members: decode, downmix, resample, trim, loudness, log-mel, FLAC), CPU
   seconds over all takes and whether both give the same members;
2. `lumina curate --local` of the folder (curate_step, a fresh home each) with the OLD writer and the
   NEW, CPU seconds of the whole command;
3. SpeechPlugin's near-duplicate marking (preprocess/speech/dedup.py, the code as it is now) of 250 ..
   2000 distinct takes' fingerprints (the real ones, then jittered copies). The figures below for it
   are version 1's, every kept take compared in full with every later one of a similar length;
   version 2 bounds the distance first (bench/bench_speech_dedup.py: 25x faster at 4,080 takes).

Measured 2026-12-06 on the shared 2-core machine (load 3-5), CPU (process_time), not wall:
this script at its defaults (300 takes), shard writer OLD 5.34 s, NEW 3.05 s (x1.75, same members);
curate OLD 9.09 s, NEW 7.20 s; near-duplicate marking 0.30 / 1.19 / 4.78 / 19.3 s at 250 / 500 /
1000 / 2000 takes (x3.9-4.0 per doubling: some 30 min at 20,000 takes, silent, in the driver).
The user walk (`lumina curate --local` of 1,000 own takes, 1% bad, CPU of the process tree):
34.8 s before, 29.1 s after; at 200 takes 7.15 s and 6.34 s; at 5,000 takes (after) 243 s, 8.4x the
1,000's for 5x the takes, with 138 s of wall time silent between the analysis bar and the writer's
(the near-duplicate marking, version 1; 10 of 10 planted quieter copies found, no distinct take
rejected).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VOICES = ("en-us", "en-us+f3", "en-us+m3", "en+f2", "en+m1", "en-us+f4", "en+m7", "en-us+klatt")
WORDS = ("the", "a", "river", "morning", "quiet", "station", "letter", "garden", "window", "teacher", "bright",
         "cold", "market", "bridge", "yellow", "runs", "opened", "carried", "slowly", "under", "before", "after",
         "village", "story", "green", "paper", "harbor", "music", "answer", "doctor", "engine", "north")
MONTHS = ("January", "March", "May", "July", "September", "November")


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(2, 15))]
    if rng.random() < 0.6:
        words[rng.randrange(len(words))] = rng.choice((
            str(rng.randrange(1000)), str(rng.randrange(1850, 2030)), f"{rng.choice(MONTHS)} {rng.randrange(1, 29)}",
            f"${rng.randrange(1, 500)}", f"{rng.randrange(1, 13)}:{rng.choice((0, 15, 30, 45)):02d} pm",
            f"{rng.randrange(1990, 2030)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"))
    s = " ".join(words)
    return s[0].upper() + s[1:] + "."


def write_takes(root: Path, n: int, seed: int = 0) -> list[Path]:
    import soundfile as sf

    from preprocess.speech.espeak import synthesise

    rng, paths = random.Random(seed), []
    for i in range(n):
        text = sentence(rng)
        y, sr = synthesise(text, rng.choice(VOICES), rng.randint(120, 220), rng.randint(25, 75), rng.randint(30, 70), seed=seed)
        path = root / f"spk{i % 8}" / f"take_{i:05d}{'.flac' if i % 3 == 2 else '.wav'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, y.astype(np.float32) / 32768.0, sr, subtype="PCM_16")
        path.with_suffix(".txt").write_text(text + "\n")
        paths.append(path)
    return paths


def old_curated_members(self, cand, opts) -> dict[str, bytes]:
    """The writer before: curation.prepare again (clipping, level, SNR estimate, trim, loudness)."""
    import soundfile as sf

    from contracts.shards import npy_bytes
    from encoders.audio import mel as melspec
    from preprocess.speech.audio import TARGET_SR
    from preprocess.speech.curation import prepare

    p = prepare(cand.source.media["media"].read(), opts.trim_top_db, opts.target_lufs, opts.silence_dbfs)
    buf = io.BytesIO()
    sf.write(buf, p.audio, TARGET_SR, format="FLAC", subtype="PCM_16")
    return {"flac": buf.getvalue(), "mel.npy": npy_bytes(melspec.log_mel(p.audio))}


def writer(paths: list[Path]) -> tuple[float, float, bool]:
    from contracts.records import SampleRecord
    from preprocess.modality import Candidate
    from preprocess.sources import Entry, RawInput
    from preprocess.speech.plugin import SpeechOptions, SpeechPlugin

    plugin, opts = SpeechPlugin(), SpeechOptions()
    cands = []
    for p in paths:
        e = Entry(p.name, str(p), p.stat().st_size, ("bytes", p.read_bytes()))
        cands.append(Candidate(SampleRecord(key=p.stem, modality="speech", source_uri=str(p), split="train", status="accepted"), [], RawInput(p.name, str(p), {"media": e})))
    old_curated_members(plugin, cands[0], opts), plugin.curated_members(cands[0], opts)  # imports, lazy set-ups
    t = time.process_time()
    old = [old_curated_members(plugin, c, opts) for c in cands]
    t_old = time.process_time() - t
    t = time.process_time()
    new = [plugin.curated_members(c, opts) for c in cands]
    t_new = time.process_time() - t
    return t_old, t_new, old == new


def curate_cpu(src: Path, home: Path, old: bool) -> tuple[float, dict]:
    from flows.steps import curate_step
    from preprocess.curate import CurateConfig
    from preprocess.speech.plugin import SpeechPlugin

    real = SpeechPlugin.curated_members
    if old:
        SpeechPlugin.curated_members = old_curated_members
    try:
        t = time.process_time()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            out = curate_step(str(src), str(home), CurateConfig(modality="speech"), backend="local")
        return time.process_time() - t, out["counts"]
    finally:
        SpeechPlugin.curated_members = real


def dedup_cpu(shard_uris: list[str], sizes: list[int]) -> list[tuple[int, float, int]]:
    from contracts.records import SampleRecord
    from contracts.shards import iter_samples, npy_load
    from preprocess.modality import Candidate
    from preprocess.sources import Entry, RawInput
    from preprocess.speech.dedup import fingerprint, mark_near_duplicates

    real = [(fingerprint(npy_load(f["mel.npy"])), npy_load(f["mel.npy"]).shape[1] * 256 / 22050)
            for uri in shard_uris for _, f in iter_samples(uri)]
    rng, rows = np.random.default_rng(0), []
    for n in sizes:
        cands = []
        for i in range(n):
            fp, d = real[i % len(real)]
            if i >= len(real):  # another take of a similar length: far from every other (no near duplicate)
                fp, d = (fp.astype(np.float32) + rng.normal(0, 1.0, fp.shape)).astype(np.float16), d * rng.uniform(0.95, 1.05)
            name = f"{i:06d}.wav"
            rec = SampleRecord(key=f"k{i:06d}", modality="speech", source_uri=name, split="train", status="accepted", meta={})
            cands.append(Candidate(rec, [], RawInput(name, name, {"media": Entry(name, name, 0)}), (fp, d)))
        t = time.process_time()
        mark_near_duplicates(cands, 0.15)
        rows.append((n, time.process_time() - t, sum(not c.accepted for c in cands)))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--takes", type=int, default=300)
    ap.add_argument("--dedup", default="250,500,1000,2000", help="takes to mark near duplicates among")
    ap.add_argument("--out", help="work folder (default: a temporary one, removed after)")
    a = ap.parse_args()
    for k, v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_WAIT_POLICY": "PASSIVE"}.items():
        os.environ.setdefault(k, v)
    out = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="bench_speech_scale-"))
    out.mkdir(parents=True, exist_ok=True)
    try:
        t = time.process_time()
        paths = write_takes(out / "takes", a.takes)
        print(f"{a.takes} takes synthesised in {time.process_time() - t:.1f} s CPU")
        t_old, t_new, same = writer(paths)
        print(f"\nshard writer, {len(paths)} takes     OLD {t_old:6.2f} s CPU   NEW {t_new:6.2f} s CPU   "
              f"x{t_old / max(t_new, 1e-3):.2f}   same members: {same}")
        c_old, counts = curate_cpu(out / "takes", out / "home_old", old=True)
        c_new, counts_new = curate_cpu(out / "takes", out / "home_new", old=False)
        print(f"lumina curate --local, {a.takes} takes  OLD {c_old:6.2f} s CPU   NEW {c_new:6.2f} s CPU   "
              f"x{c_old / max(c_new, 1e-3):.2f}   counts {counts} / {counts_new}")
        shards = sorted(str(p) for p in (out / "home_new").rglob("curated-*.tar"))
        sizes = [int(s) for s in a.dedup.split(",") if s]
        print("\nnear-duplicate marking (dedup.py, unchanged): takes, CPU s, ratio to the previous size")
        prev = None
        for n, cpu, rejected in dedup_cpu(shards, sizes):
            ratio = f"x{cpu / prev[1]:.1f} for x{n / prev[0]:g} takes" if prev else ""
            print(f"  {n:6d}  {cpu:7.2f} s  {ratio}  (rejected {rejected})")
            prev = (n, cpu)
    finally:
        if not a.out:
            shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
