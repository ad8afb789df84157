"""Loader benchmark: memory of the streaming loader as the manifest grows, and [PAD] with and without buckets.

    .venv/bin/python bench/bench_loader.py                    # 10k and 100k synthetic samples
    .venv/bin/python bench/bench_loader.py --sizes 10000 --batches 300

Memory: each size runs in a fresh process (peak RSS is per process). Synthetic encoded shards
(training/synthetic.py: the members the encode stage writes; [4, 1, 16, 16] latents, 32 x 64
caption features) are written once per size. Reported, in MiB over the process's RSS after
imports: the manifest object (what the catalog hands over), the loader's key index, and the peak
while streaming `--batches` batches of 64 (reading every payload); and, for contrast, the
in-memory path (training.data.load_examples) on the same manifest.

Padding: one epoch of a mixed corpus (image aspect ratios at a ~256-token budget, 1-8-frame clips,
spectrogram rows of any width) batched to 8192 padded tokens, with buckets (ratio 1.02) and without.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


class PeakRSS:
    """Samples RSS every few ms in a thread (ru_maxrss would include the import peak)."""

    def __init__(self):
        self.peak, self._stop = rss_mib(), threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib())
            time.sleep(0.005)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, rss_mib())


def tokens(shape) -> int:  # patch 2 with [nextline]/[nextframe], as FlagDiT.seq_len
    T, H, W = shape[-3:]
    return T * (-(-H // 2) * (-(-W // 2) + 1) + (1 if T > 1 else 0))


def child(n: int, folder: str, batches: int, mode: str) -> dict:
    import gc

    import torch

    from training.buckets import BatchBudget
    from training.data import load_examples
    from training.stream import ManifestIndex, Position, ShardStream, batch_loader
    from training.synthetic import write_synthetic_shards

    torch.set_num_threads(1)
    shard_dir = Path(folder) / f"n{n}"
    if not shard_dir.exists():
        shard_dir.mkdir(parents=True)
        write_synthetic_shards(shard_dir, [(4, 1, 16, 16)] * n, per_shard=1000, cap_len=32, cap_dim=64)
    _manifest(shard_dir, 10)  # imports (catalog, duckdb) before the baseline
    gc.collect()
    base = rss_mib()
    manifest = _manifest(shard_dir, n)
    gc.collect()
    after_manifest = rss_mib()
    out = {"n": n, "manifest_mib": after_manifest - base}
    if mode == "stream":
        index = ManifestIndex(manifest)
        del manifest
        gc.collect()
        out["index_mib"] = index.nbytes() / 2**20
        base2 = rss_mib()
        stream = ShardStream(index, BatchBudget(max_samples=64), tokens, seed=0, shuffle_buffer=1024)
        t = time.time()
        with PeakRSS() as peak:
            for _, item in zip(range(batches), batch_loader(stream, Position())):
                pass
        out.update(stream_peak_mib=peak.peak - base2, batches=batches, samples_per_s=batches * 64 / (time.time() - t))
    else:
        with PeakRSS() as peak:
            examples = load_examples(manifest)
        out.update(in_memory_mib=peak.peak - after_manifest, examples=len(examples))
    return out


def _manifest(shard_dir: Path, n: int):
    """The manifest of shards already written (no rewrite): the same members write_synthetic_shards returns."""
    from datetime import datetime

    from catalog.manifest import Manifest, ManifestMember
    from contracts.members import CAP_FEATS, LATENT, member

    members = []
    for i in range(n):
        shard = str((shard_dir / f"encoded-{i // 1000:05d}.tar").resolve())
        key = f"{i:012x}"
        members.append(ManifestMember(key=key, caption=None, split="train", meta={},
                                      encodings={"latent": (shard, member(key, LATENT)), "text": (shard, member(key, CAP_FEATS))}))
    return Manifest("synthetic", 1, "", datetime(2026, 1, 1), {"latent": "synthetic@v1", "text": "synthetic@v1"}, members)


def mixed_lengths(n: int, seed: int = 0) -> list[int]:
    """Token counts of a mixed corpus: images (aspect ratios at ~256 tokens), clips, spectrograms."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        kind = rng.choice(["image", "video", "speech"], p=[0.6, 0.25, 0.15])
        if kind == "image":
            ar = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
            h = max(2, round((512 / ar) ** 0.5 / 2) * 2)
            w = max(2, round((512 * ar) ** 0.5 / 2) * 2)  # latent H x W; 256 patches of 2 x 2
            out.append(tokens((1, h, w)))
        elif kind == "video":
            out.append(tokens((int(rng.integers(1, 9)), 16, 16)))
        else:
            out.append(tokens((1, 2, int(rng.integers(100, 1600)))))  # one row of (1, 2)-patched mel frames
    return out


def padding(lengths: list[int], bucket_ratio: float | None) -> float:
    from training.buckets import BatchBudget, token_budget_batches

    used = real = 0
    for b in token_budget_batches(lengths, BatchBudget(max_tokens=8192, bucket_ratio=bucket_ratio), lambda x: x):
        used += len(b) * max(b)
        real += sum(b)
    return 1 - real / used


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--batches", type=int, default=300)
    p.add_argument("--folder", default=None, help="where synthetic shards go (kept between runs)")
    p.add_argument("--child", nargs=3, metavar=("N", "FOLDER", "MODE"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(child(int(a.child[0]), a.child[1], a.batches, a.child[2])))
        return 0
    folder = a.folder or tempfile.mkdtemp(prefix="bench_loader-")
    print(f"synthetic shards in {folder}; timings are on a shared machine (noisy)")
    print(f"{'samples':>8s} {'manifest':>9s} {'index':>7s} {'stream peak':>12s} {'in-memory':>10s} {'samples/s':>10s}")
    for n in a.sizes:
        res = {}
        for mode in ("stream", "memory"):
            proc = subprocess.run([sys.executable, __file__, "--child", str(n), folder, mode, "--batches", str(a.batches)],
                                  capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
            if proc.returncode:
                print(proc.stderr[-2000:])
                return 1
            res.update(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"{n:8d} {res['manifest_mib']:8.1f}M {res['index_mib']:6.2f}M {res['stream_peak_mib']:11.1f}M "
              f"{res['in_memory_mib']:9.1f}M {res['samples_per_s']:10.0f}")
    lengths = mixed_lengths(20_000)
    print(f"mixed epoch of {len(lengths)} samples ({min(lengths)}-{max(lengths)} tokens), 8192 padded tokens per batch:")
    for ratio in (1.02, 1.05, None):
        print(f"  buckets {'off' if ratio is None else f'ratio {ratio}':>10s}: padding {padding(lengths, ratio):6.2%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
