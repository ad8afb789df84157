"""What an FSDP2 --async-checkpoint costs the training loop before DCP's thread takes over: the copy
of the state into CPU memory, with one stager kept for the run (`sharded_state.checkpoint_stager`:
the previous checkpoint's buffers, refilled) against DCP's default (a stager per call: fresh
buffers, page faults), side by side in one process, alternating which goes first.

    .venv/bin/python bench/bench_dcp_staging.py                     # flag-dit-b (131M), 4 rounds
    .venv/bin/python bench/bench_dcp_staging.py --config flag-dit-s --rounds 2

One process, a gloo group of one, every block `fully_shard`ed; the state is the weights and AdamW's
moments (what `save_sharded_async` saves, without EMA). Round 1 of the kept stager allocates its
buffers, so medians are over the later rounds. Checkpoints go to a temporary folder, removed after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="flag-dit-b")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--dir", default=None, help="where checkpoints are written (default: a temporary folder)")
    args = p.parse_args()

    import torch
    import torch.distributed as dist
    from torch.distributed.fsdp import fully_shard

    from modelzoo import FlagDiT, get_config
    from training.sharded_state import checkpoint_stager, save_sharded_async

    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29533")
    dist.init_process_group("gloo", rank=0, world_size=1)
    torch.manual_seed(0)
    model = FlagDiT(get_config(args.config, in_channels=4, cap_dim=64))
    for block in model.layers:
        fully_shard(block)
    fully_shard(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    for param in model.parameters():  # one step, so AdamW's moments exist
        param.grad = torch.zeros_like(param)
    opt.step()
    group = dist.new_group(backend="gloo")
    kept = checkpoint_stager()
    root = Path(tempfile.mkdtemp(prefix="bench_dcp_staging_", dir=args.dir))
    seconds: dict[str, list[float]] = {"fresh": [], "kept": []}
    try:
        for r in range(args.rounds):
            for mode in ("fresh", "kept") if r % 2 == 0 else ("kept", "fresh"):
                t0 = time.perf_counter()
                saved, _ = save_sharded_async(root / f"{mode}-{r}", model, opt, None, group,
                                              kept if mode == "kept" else None)
                seconds[mode].append(time.perf_counter() - t0)
                saved.result()
                shutil.rmtree(root / f"{mode}-{r}")
    finally:
        kept.close()
        shutil.rmtree(root, ignore_errors=True)
        dist.destroy_process_group()
    n = sum(param.numel() for param in model.parameters())
    print(f"{args.config}: {n / 1e6:.0f}M parameters, {3 * n * 4 / 2**30:.2f} GiB staged per checkpoint (weights + 2 AdamW moments)")
    for mode, values in seconds.items():
        print(f"  {mode:5s} stager: staging s per round {[round(v, 3) for v in values]}")
    fresh, kept_s = statistics.median(seconds["fresh"][1:]), statistics.median(seconds["kept"][1:])
    print(f"median of rounds 2-{args.rounds}: fresh {fresh:.3f} s, kept {kept_s:.3f} s: {fresh / kept_s:.2f}x less loop time")


if __name__ == "__main__":
    main()
