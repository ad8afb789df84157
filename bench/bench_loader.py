"""Loader benchmark: memory of the streaming loader as the manifest grows, and [PAD] with and without buckets.

    .venv/bin/python bench/bench_loader.py                    # 10k and 100k synthetic samples
    .venv/bin/python bench/bench_loader.py --sizes 10000 --batches 300

Memory: each size runs in a fresh process (peak RSS is per process). Synthetic encoded shards
(training/synthetic.py: the members the encode stage writes; [4, 1, 16, 16] latents, 32 x 64
caption features) are written and registered in a catalog, with a manifest of them all, once per
size. Reported, in MiB over the process's RSS after imports: what the trainer holds (the peak
while it builds its key index from the catalog in batches, the index, the peak while streaming
`--batches` batches of 64, reading every payload); and, for contrast, the whole manifest as Python
objects (what the trainer built before 2026-12-04, and what evaluation reads) and the in-memory
path (training.data.load_examples) on it.

Padding: one epoch of a mixed corpus (image aspect ratios at a ~256-token budget, 1-8-frame clips,
spectrogram rows of any width) batched to 8192 padded tokens, with buckets (ratio 1.02) and without.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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

    from catalog import load_manifest
    from training.buckets import BatchBudget
    from training.data import load_examples
    from training.stream import ManifestIndex, Position, ShardStream, batch_loader

    torch.set_num_threads(1)
    catalog = _catalog(Path(folder) / f"n{n}", n)
    import pyarrow  # noqa: F401 - imports before the baseline

    from catalog import load_manifest_header

    load_manifest_header(catalog, "synthetic")
    gc.collect()
    base = rss_mib()
    out = {"n": n}
    if mode == "stream":  # what the trainer holds: the key index, read from the catalog in batches
        with PeakRSS() as peak:
            index = ManifestIndex.from_catalog(catalog, "synthetic")
        out.update(index_build_peak_mib=peak.peak - base, index_mib=index.nbytes() / 2**20)
        index.check_shards()  # as the trainer does: every reader then holds each shard to its recorded size
        gc.collect()
        base2 = rss_mib()
        stream = ShardStream(index, BatchBudget(max_samples=64), tokens, seed=0, shuffle_buffer=1024)
        t = time.time()
        with PeakRSS() as peak:
            for _, item in zip(range(batches), batch_loader(stream, Position())):
                pass
        out.update(stream_peak_mib=peak.peak - base2, batches=batches, samples_per_s=batches * 64 / (time.time() - t))
    else:  # for contrast: the whole manifest as objects (what evaluation reads), then every example in memory
        with PeakRSS() as peak:
            manifest = load_manifest(catalog, "synthetic")
        out["manifest_mib"] = peak.peak - base
        after_manifest = rss_mib()
        with PeakRSS() as peak:
            examples = load_examples(manifest)
        out.update(in_memory_mib=peak.peak - after_manifest, examples=len(examples))
    return out


def _catalog(shard_dir: Path, n: int) -> Path:
    """Synthetic encoded shards of n samples, registered in a catalog with a manifest of them all
    (written once per size and kept). Captions and meta are about the size the curate stage records;
    each shard's real size is registered (the trainer's check_shards holds shards to it), its sha256
    is a placeholder (hashing 1 GiB would dominate the set-up)."""
    import pyarrow as pa

    from catalog import Catalog, ColumnarBatch, ShardRecord
    from contracts.members import CAP_FEATS, LATENT, member
    from training.synthetic import write_synthetic_shards

    path = shard_dir / "catalog.duckdb"
    if path.exists():
        return path
    shard_dir.mkdir(parents=True, exist_ok=True)
    write_synthetic_shards(shard_dir, [(4, 1, 16, 16)] * n, per_shard=1000, cap_len=32, cap_dim=64)
    batches = []
    for s0 in range(0, n, 1000):
        idx = range(s0, min(s0 + 1000, n))
        shard = str((shard_dir / f"encoded-{s0 // 1000:05d}.tar").resolve())
        keys = [f"{i:012x}" for i in idx]
        m = len(keys)
        samples = pa.table({
            "key": keys, "modality": ["image"] * m, "source_uri": [f"/data/raw/photos/{i:08d}.jpg" for i in idx],
            "status": ["accepted"] * m, "reason": pa.nulls(m, pa.string()),
            "caption": [f"a photo of sample {i} on a sunny day, seen from the left" for i in idx],
            "width": pa.array([128] * m, pa.int32()), "height": pa.array([128] * m, pa.int32()),
            "frames": pa.nulls(m, pa.int32()), "duration": pa.nulls(m, pa.float64()), "sample_rate": pa.nulls(m, pa.int32()),
            "split": ["train"] * m,
            "meta": [f'{{"original_size": [{640 + i % 7}, 480], "phash": "{i:016x}", "resize": "fit", "source_kind": "folder"}}'
                     for i in idx]})
        encodings = pa.table({
            "key": keys * 2, "encoder_fingerprint": ["synthetic@v1"] * (2 * m), "kind": ["latent"] * m + ["text"] * m,
            "shape": pa.array([[4, 1, 16, 16]] * m + [[32, 64]] * m, pa.list_(pa.int32())), "dtype": ["float16"] * (2 * m),
            "shard_uri": [shard] * (2 * m), "member": [member(k, LATENT) for k in keys] + [member(k, CAP_FEATS) for k in keys]})
        batches.append(ColumnarBatch(shard=ShardRecord(uri=shard, stage="encoded", num_samples=m, bytes=Path(shard).stat().st_size,
                                                         sha256=f"{s0:064x}"),
                                     samples=samples, encodings=encodings, label=shard))
    with Catalog.open(path) as cat:
        run = cat.start_run("bench", {"n": n})
        cat.register_batches(batches, run)
        cat.finish_run(run)
        cat.create_manifest("synthetic", "modality = 'image'")
    return path


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


def padding(lengths: list[int], bucket_ratio: float | None) -> tuple[float, int]:
    """[PAD] share of an epoch's batches, and how many batches there were."""
    from training.buckets import BatchBudget, token_budget_batches

    used = real = batches = 0
    for b in token_budget_batches(lengths, BatchBudget(max_tokens=8192, bucket_ratio=bucket_ratio), lambda x: x):
        used += len(b) * max(b)
        real += sum(b)
        batches += 1
    return 1 - real / used, batches


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
    try:
        return report(a, folder)
    finally:
        if not a.folder:  # a temporary folder holds about 1 GiB of shards at 100k samples
            shutil.rmtree(folder, ignore_errors=True)


def report(a: argparse.Namespace, folder: str) -> int:
    print(f"synthetic shards in {folder}; timings are on a shared machine (noisy)")
    print("MiB over the process's RSS after imports; trainer: building the key index from the catalog (peak), the index, "
          "streaming; for contrast: the whole manifest as objects, and every example in memory")
    print(f"{'samples':>8s} {'index build':>12s} {'index':>7s} {'stream peak':>12s} {'whole manifest':>15s} {'in-memory':>10s} {'samples/s':>10s}")
    for n in a.sizes:
        res = {}
        for mode in ("stream", "memory"):
            proc = subprocess.run([sys.executable, __file__, "--child", str(n), folder, mode, "--batches", str(a.batches)],
                                  capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
            if proc.returncode:
                print(proc.stderr[-2000:])
                return 1
            res.update(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"{n:8d} {res['index_build_peak_mib']:11.1f}M {res['index_mib']:6.2f}M {res['stream_peak_mib']:11.1f}M "
              f"{res['manifest_mib']:14.1f}M {res['in_memory_mib']:9.1f}M {res['samples_per_s']:10.0f}")
    lengths = mixed_lengths(20_000)
    print(f"mixed epoch of {len(lengths)} samples ({min(lengths)}-{max(lengths)} tokens), 8192 padded tokens per batch:")
    for ratio in (1.02, 1.05, None):
        pad, batches = padding(lengths, ratio)
        print(f"  buckets {'off' if ratio is None else f'ratio {ratio}':>10s}: padding {pad:6.2%} in {batches} batches")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
