"""Writing a batch file (contracts/records.Batch.write) against the way it was written before
(dataclasses.asdict of every record, json.dump to the file), side by side in one run on the same
batch: CPU seconds (median of --rounds) and whether the bytes are the same.

    .venv/bin/python bench/bench_batch_write.py [--samples 3233] [--verdicts 28000] [--rounds 5]

The defaults are the size of one curated batch of the 20k scale walk (bench/bench_scale.py)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts.records import Batch, EncodingRecord, SampleRecord, ShardRecord, VerdictRecord  # noqa: E402


def make_batch(samples: int, verdicts: int) -> Batch:
    keys = [f"{i:032x}" for i in range(samples)]
    return Batch(
        shard=ShardRecord("/data/curated-0.tar", "curated", samples, 10 ** 7, "0" * 64),
        samples=[SampleRecord(key=k, modality="image", source_uri=f"/data/src/{i}.png", status="accepted",
                              caption=f"a photo of thing {i}", width=64, height=64,
                              meta={"label": i % 10, "scores": {"sharpness": 1.5 * i, "clip": 0.31}, "phash": "ab" * 8})
                 for i, k in enumerate(keys)],
        verdicts=[VerdictRecord(keys[i % samples], f"filter{i % 9}", "1", 0.5 * i, 1.0, True) for i in range(verdicts)],
        encodings=[EncodingRecord(k, "sd15-vae:cfg=aa", "latent", [4, 8, 8], "float16", "/data/enc-0.tar",
                                  f"{k}.latent.npy") for k in keys])


def write_as_before(batch: Batch, path: str) -> None:
    """The baseline: asdict of each record and json.dump to the file (atomic rename and fsync as now)."""
    d = {"shard": asdict(batch.shard) if batch.shard else None, "samples": [asdict(s) for s in batch.samples],
         "verdicts": [asdict(v) for v in batch.verdicts], "encodings": [asdict(e) for e in batch.encodings]}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(d, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=3233)
    ap.add_argument("--verdicts", type=int, default=28000)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    batch = make_batch(a.samples, a.verdicts)
    work = tempfile.mkdtemp(prefix="bench_batch_write_")
    old, new = [], []
    for r in range(a.rounds):  # interleaved, so a busy moment of the machine falls on both
        t = time.process_time()
        write_as_before(batch, os.path.join(work, f"old{r}.json"))
        old.append(time.process_time() - t)
        t = time.process_time()
        batch.write(os.path.join(work, f"new{r}.json"))
        new.append(time.process_time() - t)
    same = {hashlib.sha256(Path(work, f"{k}0.json").read_bytes()).hexdigest() for k in ("old", "new")}
    mb = Path(work, "new0.json").stat().st_size / 1e6
    print(f"batch of {a.samples} samples, {a.verdicts} verdicts, {a.samples} encodings: {mb:.1f} MB of JSON")
    print(f"before (asdict + json.dump): {statistics.median(old):.3f} s CPU (median of {a.rounds})")
    print(f"now (Batch.write):           {statistics.median(new):.3f} s CPU")
    print(f"ratio {statistics.median(old) / statistics.median(new):.1f}x; same bytes: {len(same) == 1}")


if __name__ == "__main__":
    main()
