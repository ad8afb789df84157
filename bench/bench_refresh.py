"""Incremental refresh against a full re-run, on a source of N small image-caption pairs.

    python bench/bench_refresh.py --inputs 10000 --new-percent 1 [--text minilm] [--out DIR]

Builds N generated 32x32 PNGs with captions, then times, each in its own workspace where it matters:
  full      curate + encode of the whole source from scratch (what every run did before refresh);
  first     the first refresh of the source (also a full ingest, plus the source index);
  noop      a refresh with nothing new (lists, stats, compares: no hashing, no run, no rows);
  1% new    a refresh after adding new-percent % more files (only those are curated and encoded).
Everything runs in this process without Ray (backend local) so the figures compare the work done,
not the scheduler. Times are wall-clock seconds on whatever else the machine is doing.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=10_000)
    ap.add_argument("--new-percent", type=float, default=1.0)
    ap.add_argument("--text", default="minilm", help="text encoder (minilm default, phone: no model)")
    ap.add_argument("--out", help="work folder (default: a temp folder, removed afterwards)")
    a = ap.parse_args()
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
