"""FSDP2 memory and time per rank: the trainer's sharded EMA and sharded checkpoints against
gathering (the trainer's way until 2026-12-03), side by side on 2 CPU processes (gloo).

    .venv/bin/python bench/bench_fsdp_memory.py                      # flag-dit-b, 2 ranks
    .venv/bin/python bench/bench_fsdp_memory.py --config flag-dit-s --steps 3

Each way runs in its own `torchrun --nproc_per_node=2` launch (RSS is per process):
- sharded (training/): the EMA is `fully_shard`ed like the model and each rank averages its own
  shard; a checkpoint is `sharded_state.save_sharded` (each rank writes its pieces) plus the EMA
  weights assembled from those files by rank 0, one tensor at a time (`publish_weights`).
- gathered (the baseline, written out here): every rank keeps a whole EMA copy, updated from
  parameters all-gathered every step; a checkpoint gathers the whole weights on every rank and the
  whole optimizer state on rank 0, and rank 0 writes them in one file.

Reported per rank: RSS after set-up and one step (model, AdamW, EMA), the RSS peak a checkpoint
adds over that, the EMA update's time per step, the checkpoint's time, and the bytes it wrote.
The set-up and the step are the same in both ways; only what the EMA and the checkpoint cost differs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def worker(args) -> None:
    import torch
    import torch.distributed as dist
    from bench_loader import PeakRSS, rss_mib

    from modelzoo import FlagDiT, FlowMatching, get_config
    from training.distributed import barrier, broadcast, init_distributed, wrap_model
    from training.ema import ModelEMA
    from training.sharded_state import publish_weights, save_sharded

    torch.set_num_threads(1)
    rank, world, device = init_distributed()
    torch.manual_seed(0)
    cfg = get_config(args.config, num_classes=10)
    model = FlagDiT(cfg)
    ema = ModelEMA(model, 0.999)
    wrap_model(model, world, "fsdp", device, bf16=False)
    if args.way == "sharded":
        wrap_model(ema.module, world, "fsdp", device, bf16=False)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    fm = FlowMatching()
    x1, y = torch.randn(1, cfg.in_channels, 1, 8, 8), torch.randint(0, 10, (1,))

    @torch.no_grad()
    def update_ema(step: int) -> None:
        if args.way == "sharded":
            ema.update(model, step)
        else:  # the whole EMA on every rank, from parameters gathered each step
            for e, p in zip(ema.module.parameters(), model.parameters()):
                e.lerp_(p.detach().full_tensor(), 1e-3)

    ema_times = []
    for step in range(args.steps):
        loss = fm.training_loss(model, x1, y=y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        barrier()
        start = time.perf_counter()
        update_ema(step)
        barrier()
        ema_times.append(time.perf_counter() - start)
    import ctypes
    import gc

    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed step buffers back, so the peak below is new memory
    settled = rss_mib()
    folder = Path(broadcast(tempfile.mkdtemp(prefix="bench_fsdp_") if rank == 0 else None))
    barrier()
    start = time.perf_counter()
    with PeakRSS() as peak:
        if args.way == "sharded":
            save_sharded(folder, model, opt, ema.module)
            if rank == 0:
                publish_weights(folder, list(ema.module.state_dict()))
        else:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

            whole = {f"model.{k}": v.full_tensor().cpu() for k, v in model.state_dict().items()}  # on every rank
            optim = get_optimizer_state_dict(model, opt, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
            if rank == 0:
                from safetensors.torch import save_file

                for name, st in optim["state"].items():
                    whole.update({f"optim.{name}.{k}": v for k, v in st.items() if torch.is_tensor(v)})
                save_file({k: v.contiguous() for k, v in whole.items()}, str(folder / "train_state.safetensors"))
                save_file({k: v.contiguous() for k, v in ema.module.state_dict().items()}, str(folder / "model.safetensors"))
            del whole, optim
        barrier()
    seconds = time.perf_counter() - start
    own = sum(p.stat().st_size for p in folder.rglob(f"shard-{rank + 1:05d}-*")) if args.way == "sharded" else (
        folder_bytes(folder) if rank == 0 else 0)
    row = dict(way=args.way, rank=rank, settled_mib=round(settled), checkpoint_extra_mib=round(peak.peak - settled),
               ema_update_ms=round(1e3 * sorted(ema_times)[len(ema_times) // 2], 1), checkpoint_s=round(seconds, 2),
               wrote_mib=round(own / 2**20), ema_local_params=sum(getattr(p, "to_local", lambda: p)().numel()
                                                                   for p in ema.module.parameters()))
    rows = [None] * world
    dist.all_gather_object(rows, row)
    if rank == 0:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        Path(args.json).write_text(json.dumps(dict(rows=rows, params=sum(p.numel() for p in model.parameters()))))
    barrier()
    dist.destroy_process_group()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="flag-dit-b")
    p.add_argument("--steps", type=int, default=4, help="training steps before the checkpoint (EMA timed on each)")
    p.add_argument("--way", choices=["sharded", "gathered"], help=argparse.SUPPRESS)  # a worker's
    p.add_argument("--json", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.way:
        return worker(args)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for way in ("gathered", "sharded"):
            out = Path(tmp) / f"{way}.json"
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", __file__,
                   "--config", args.config, "--steps", str(args.steps), "--way", way, "--json", str(out)]
            subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
            results[way] = json.loads(out.read_text())
    params = results["sharded"]["params"]
    print(f"{args.config}: {params / 1e6:.1f} M parameters ({params * 4 / 2**20:.0f} MiB fp32), 2 ranks, gloo")
    cols = ["settled_mib", "checkpoint_extra_mib", "ema_update_ms", "checkpoint_s", "wrote_mib", "ema_local_params"]
    print(f"{'way':9} {'rank':>4} " + " ".join(f"{c:>20}" for c in cols))
    for way in ("gathered", "sharded"):
        for r in results[way]["rows"]:
            print(f"{way:9} {r['rank']:>4} " + " ".join(f"{r[c]:>20}" for c in cols))
    for c in ("settled_mib", "checkpoint_extra_mib", "ema_update_ms", "checkpoint_s"):
        worst = {w: max(r[c] for r in results[w]["rows"]) for w in results}
        print(f"worst rank's {c}: gathered / sharded = {worst['gathered'] / max(worst['sharded'], 1e-9):.2f}x")


if __name__ == "__main__":
    main()
