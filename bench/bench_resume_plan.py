"""What a resume deep into an epoch pays before its first step: the batch plan is recomputed from the
epoch's start out of shard headers (on every rank and loader worker). tarfile's header parsing, as
it was, against the stream's own header reader, alternately in one process, medians.

    python bench/bench_resume_plan.py [--samples 20000] [--per-shard 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import training.stream as stream  # noqa: E402
from training.buckets import BatchBudget  # noqa: E402
from training.synthetic import write_synthetic_shards  # noqa: E402


def tokens(shape):
    T, H, W = shape[-3:]
    return T * (H // 2) * (W // 2 + 1)


def plan_to_the_end(manifest, budget) -> tuple[float, int]:
    """Seconds to reach the epoch's last batch from a fresh stream, and that batch's index."""
    s = stream.ShardStream(stream.ManifestIndex(manifest), budget, tokens, seed=1, shuffle_buffer=1024)
    last = sum(1 for _ in s.epoch_plan(0)) - 1
    s = stream.ShardStream(stream.ManifestIndex(manifest), budget, tokens, seed=1, shuffle_buffer=1024)
    t = time.perf_counter()
    pos, _ = next(iter(s.plan(stream.Position(0, last))))
    return time.perf_counter() - t, pos.index


def as_it_was():
    def refuse(path):
        raise stream._UnknownTar(path)

    return mock.patch.object(stream, "_scan_tar_headers", refuse)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=20_000)
    ap.add_argument("--per-shard", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    shapes = [[(4, 1, 8, 8), (4, 1, 16, 8), (4, 1, 16, 16)][i % 3] for i in range(a.samples)]
    with tempfile.TemporaryDirectory() as tmp:
        manifest = write_synthetic_shards(tmp, shapes, per_shard=a.per_shard)
        budget = BatchBudget(max_tokens=1024, max_samples=64)
        times = {"tarfile (as it was)": [], "own header reader": []}
        for _ in range(a.rounds):
            with as_it_was():
                t_old, i_old = plan_to_the_end(manifest, budget)
            t_new, i_new = plan_to_the_end(manifest, budget)
            assert i_old == i_new
            times["tarfile (as it was)"].append(t_old)
            times["own header reader"].append(t_new)
    old, new = (statistics.median(v) for v in times.values())
    print(f"resume at the last batch ({i_new}) of a {a.samples}-sample epoch, {a.per_shard} samples a shard, "
          f"median of {a.rounds}:")
    for name, v in times.items():
        m = statistics.median(v)
        print(f"  {name:22s} {m:7.2f} s  {m / a.samples * 1e6:6.0f} us a sample  "
              f"(~{m / a.samples * 1e7 / 60:.0f} min for 10M)")
    print(f"  ratio {old / new:.2f}x")


if __name__ == "__main__":
    main()
