"""Catalog scale benchmark: register N synthetic samples (default 1,000,000) with verdicts and
encodings, then time the README's example queries, `stats`, `why`, and a large manifest.

    .venv/bin/python bench/bench_catalog.py            # the full million
    .venv/bin/python bench/bench_catalog.py --n 100000 # a quick run

Registration goes through Catalog.register_batches with ColumnarBatch inputs: the same
validation, statements and transactions as Batch objects read from .batch.json files, minus the
cost of building a Python object per record (which the bench measures separately on a slice,
--objects). Targets on a 2-core machine: 1M samples registered in < 60 s, each query < 1 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog import Batch, Catalog, ColumnarBatch, EncodingRecord, SampleRecord, ShardRecord, VerdictRecord  # noqa: E402
from catalog.cli import EXAMPLE_QUERIES  # noqa: E402

MODALITIES = np.array(["image", "video", "speech", "multiview"])
FILTERS = [("min_size", "2", 256.0), ("aspect_ratio", "1", 3.0), ("aesthetic", "1", 0.5)]
WORDS = np.array(["dog", "cat", "mountain", "city", "ocean", "forest", "robot", "flower", "car", "bird"])
SIZES = np.array([128, 256, 384, 512, 768, 1024, 1536])
VAE = "sd15-vae:cfg=3f2a:w=9c1d"
TEXT = "minilm-l6:cfg=11aa:w=77be"


def synth_batch(rng: np.random.Generator, start: int, n: int, shard_dir: str) -> list[ColumnarBatch]:
    """n samples with 3 verdicts each and 2 encodings per accepted sample, columns built by numpy: a
    curated shard's batch (samples, verdicts) and an encoded shard's (encodings), as curate and encode
    register them, so that `lumina catalog check` finds every encoding's shard."""
    idx = np.arange(start, start + n)
    keys = [f"{i * 0x9E3779B97F4A7C15 % (1 << 64):016x}{i:016x}" for i in idx.tolist()]  # 32 hex, like preprocess.keys
    modality = MODALITIES[rng.choice(4, n, p=[0.7, 0.15, 0.1, 0.05])]
    width = SIZES[rng.integers(0, len(SIZES), n)]
    height = SIZES[rng.integers(0, len(SIZES), n)]
    speech = modality == "speech"
    scores = rng.random((3, n))
    scores[0] = np.minimum(width, height)
    scores[1] = np.maximum(width, height) / np.minimum(width, height)
    passed = np.stack([scores[0] >= 256, scores[1] <= 3.0, scores[2] >= 0.15])
    passed[:2, speech] = True
    accepted = passed.all(axis=0)
    quarantined = rng.random(n) < 0.01
    status = np.where(quarantined, "quarantined", np.where(accepted, "accepted", "rejected"))
    first_fail = np.argmin(passed, axis=0)
    reason = np.where(quarantined, "decode_error", np.array([f[0] for f in FILTERS])[first_fail])
    reason = np.where(status == "accepted", None, reason)
    shard_uri = f"{shard_dir}/curated-{start // n:06d}.tar"
    samples = pa.table({
        "key": keys,
        "modality": modality,
        "source_uri": [f"/data/raw/{i}.bin" for i in idx.tolist()],
        "status": status,
        "reason": pa.array(reason.tolist(), pa.string()),
        "caption": np.char.add("a photo of a ", WORDS[idx % len(WORDS)]),
        "width": pa.array(width, pa.int32(), mask=speech),
        "height": pa.array(height, pa.int32(), mask=speech),
        "frames": pa.array(np.where(modality == "multiview", 8, 16), pa.int32(), mask=~np.isin(modality, ["video", "multiview"])),
        "duration": pa.array(rng.random(n) * 12, pa.float64(), mask=~np.isin(modality, ["video", "speech"])),
        "sample_rate": pa.array(np.full(n, 16000), pa.int32(), mask=~speech),
        "split": np.where(idx % 20 == 0, "holdout", "train"),
        "meta": [f'{{"label": {i % 1000}, "source_dir": "{WORDS[i % len(WORDS)]}"}}' for i in idx.tolist()],
    })
    keys_arr = samples["key"]
    verdicts = pa.concat_tables([
        pa.table({
            "key": keys_arr,
            "filter": pa.array([f] * n),
            "version": pa.array([v] * n),
            "score": scores[j],
            "threshold": np.full(n, t),
            "passed": passed[j],
        }) for j, (f, v, t) in enumerate(FILTERS)
    ])
    acc = samples.filter(pa.array(status == "accepted"))
    m = acc.num_rows
    enc_uri = shard_uri.replace("curated", "encoded")
    encodings = pa.concat_tables([
        pa.table({
            "key": acc["key"],
            "encoder_fingerprint": pa.array([VAE] * m),
            "kind": pa.array(["latent"] * m),
            "shape": pa.array([[4, 1, 32, 32]] * m, pa.list_(pa.int32())),
            "dtype": pa.array(["float16"] * m),
            "shard_uri": pa.array([enc_uri] * m),
            "member": pa.compute.binary_join_element_wise(acc["key"], ".latent.npy", ""),
        }),
        pa.table({
            "key": acc["key"],
            "encoder_fingerprint": pa.array([TEXT] * m),
            "kind": pa.array(["text"] * m),
            "shape": pa.array([[77, 384]] * m, pa.list_(pa.int32())),
            "dtype": pa.array(["float16"] * m),
            "shard_uri": pa.array([enc_uri] * m),
            "member": pa.compute.binary_join_element_wise(acc["key"], ".text.npy", ""),
        }),
    ])
    curated = ShardRecord(uri=shard_uri, stage="curated", num_samples=m, bytes=m * 150_000, sha256=f"{start:064x}")
    encoded = ShardRecord(uri=enc_uri, stage="encoded", num_samples=m, bytes=m * 25_000, sha256=f"{start + 1:064x}")
    return [ColumnarBatch(shard=curated, samples=samples, verdicts=verdicts, label=shard_uri),
            ColumnarBatch(shard=encoded, encodings=encodings, label=enc_uri)]


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="samples to register")
    ap.add_argument("--batch", type=int, default=20_000, help="samples per batch (one transaction each)")
    ap.add_argument("--objects", type=int, default=20_000, help="samples registered as Batch objects, for comparison")
    ap.add_argument("--dir", default=None, help="where to put the catalog (default: a temp dir)")
    args = ap.parse_args()

    workdir = Path(args.dir or tempfile.mkdtemp(prefix="bench_catalog_"))
    path = workdir / "catalog.duckdb"
    path.unlink(missing_ok=True)
    rng = np.random.default_rng(0)
    batches, t_gen = timed(lambda: [b for s in range(0, args.n, args.batch)
                                    for b in synth_batch(rng, s, min(args.batch, args.n - s), str(workdir))])
    rows = sum(b.samples.num_rows + b.verdicts.num_rows + b.encodings.num_rows for b in batches)
    print(f"generated {args.n:,} samples ({rows:,} rows with verdicts and encodings) in {t_gen:.1f} s")

    cat = Catalog.open(path)
    run = cat.start_run("bench", {"n": args.n})
    counts, t_reg = timed(lambda: cat.register_batches(batches, run))
    print(f"register: {counts['samples']:,} samples, {counts['verdicts']:,} verdicts, {counts['encodings']:,} encodings "
          f"in {len(batches)} batches: {t_reg:.1f} s = {args.n / t_reg:,.0f} samples/s, {rows / t_reg:,.0f} rows/s "
          f"[target: 1M samples < 60 s]")
    again, t_again = timed(lambda: cat.register_batches(batches, run))
    print(f"register again (idempotent, all skipped={again['skipped'] == len(batches)}): {t_again:.1f} s")

    if args.objects:
        objs = [Batch(
            shard=ShardRecord(f"{workdir}/obj-{i}.tar", "curated", 100, 1, "x"),
            samples=[SampleRecord(f"obj{i:06d}{j:04d}", "image", "/raw", "accepted", caption="c", width=512, height=512,
                                  meta={"label": j}) for j in range(100)],
            verdicts=[VerdictRecord(f"obj{i:06d}{j:04d}", f, v, 1.0, t, True) for j in range(100) for f, v, t in FILTERS],
            encodings=[EncodingRecord(f"obj{i:06d}{j:04d}", VAE, "latent", [4, 1, 32, 32], "float16",
                                      f"{workdir}/obj-{i}.tar", f"{j}.latent.npy") for j in range(100)])
            for i in range(max(1, args.objects // 100))]
        paths = [b.write(workdir / f"obj-{i}.batch.json") for i, b in enumerate(objs)]
        _, t_obj = timed(lambda: cat.register_batches(paths, run))
        n_obj = len(objs) * 100
        print(f"register from .batch.json files: {n_obj:,} samples in {len(paths)} batches of 100: "
              f"{t_obj:.2f} s = {n_obj / t_obj:,.0f} samples/s (per-batch overhead dominates)")
    cat.finish_run(run)

    print("\nqueries (file held open, warm):")
    worst = 0.0
    with cat.hold():
        cat.sql("SELECT count(*) FROM samples")
        for title, query in EXAMPLE_QUERIES:
            (cols, out), t = timed(lambda: cat.sql(query))
            worst = max(worst, t)
            print(f"  {t * 1000:8.1f} ms  {len(out):5d} rows  {title}")
        key = batches[len(batches) // 2 // 2 * 2].samples["key"][7].as_py()  # a curated batch: it has the samples
        _, t = timed(lambda: cat.why(key))
        print(f"  {t * 1000:8.1f} ms         why KEY")
        worst = max(worst, t)
        _, t = timed(cat.stats)
        print(f"  {t * 1000:8.1f} ms         stats (all sections)")
        worst = max(worst, t)
        _, t = timed(cat.check)
        print(f"  {t * 1000:8.1f} ms         check (data tests)")
    print(f"slowest query: {worst * 1000:.0f} ms [target < 1000 ms]")

    print("\ncold, one process-like open per command (what the CLI pays):")
    ro = Catalog.open(path, read_only=True)
    _, t = timed(lambda: ro.sql(EXAMPLE_QUERIES[0][1]))
    print(f"  {t * 1000:8.1f} ms  open + {EXAMPLE_QUERIES[0][0]}")
    _, t = timed(ro.stats)
    print(f"  {t * 1000:8.1f} ms  open + stats")

    m, t = timed(lambda: cat.create_manifest("bench-images", "modality = 'image' AND split = 'train'"))
    print(f"\nmanifest create: {len(m):,} members in {t:.1f} s (includes reading it back)")
    _, t = timed(lambda: ro.manifest("bench-images"))
    print(f"load_manifest: {t:.1f} s")
    _, t = timed(lambda: cat.create_manifest("bench-images", "modality = 'image' AND split = 'train'"))
    print(f"manifest create again (unchanged -> same version): {t:.1f} s")
    with Catalog.open(path, read_only=True) as ro_check:
        violations = {k: v for k, v in ro_check.check().items() if v}
    print(f"check (data tests): {violations or 'no violations'}")
    print(f"\ncatalog file: {path.stat().st_size / 1e6:.0f} MB at {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
