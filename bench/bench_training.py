"""The training benchmarks of one run: loader memory and [PAD] share, then the step against diffusers.

    .venv/bin/python bench/bench_training.py            # full: 10k and 100k samples; 2 interleaved rounds
    .venv/bin/python bench/bench_training.py --quick    # 10k samples, 100 batches; one short round
    .venv/bin/python bench/bench_training.py --compile  # adds the compiled rows to the step table

It runs ``bench_loader.py`` (memory of the streaming loader at 10k and 100k synthetic encoded
samples; padding of a mixed-size epoch with and without buckets) and then ``bench_step.py``
(forward + backward + AdamW of Flag-DiT S against diffusers' LuminaNextDiT2DModel at fp32 and
bf16 autocast, interleaved rounds, medians), each in its own process, one after the other so
neither loads the machine while the other measures.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def run(title: str, script: str, args: list[str]) -> int:
    print(f"\n=== {title}: {script} {' '.join(args)} ===", flush=True)
    t = time.time()
    rc = subprocess.call([sys.executable, str(BENCH / script), *args])
    print(f"=== {title}: exit {rc}, {time.time() - t:.0f} s ===", flush=True)
    return rc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="10k samples only and a one-round step comparison")
    p.add_argument("--compile", action="store_true", help="also time the torch.compile'd step (bench_step.py --compile)")
    a = p.parse_args(argv)
    loader = ["--sizes", "10000", "--batches", "100"] if a.quick else []
    step = (["--quick"] if a.quick else []) + (["--compile"] if a.compile else [])
    rcs = [run("loader memory and padding", "bench_loader.py", loader), run("training step vs diffusers", "bench_step.py", step)]
    return max(rcs)


if __name__ == "__main__":
    sys.exit(main())
