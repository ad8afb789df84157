"""FSDP2 as `lumina train --parallel fsdp --precision bf16` wraps the model (`fully_shard` per block,
bf16 parameters, fp32 gradient reduction, optional activation checkpointing), on synthetic batches,
without the catalog: what a GPU session runs to check the GPU path.

    torchrun --nproc_per_node=1 bench/gpu_fsdp2.py                        # flag-dit-600m, 4 x 4,096 tokens
    torchrun --nproc_per_node=1 bench/gpu_fsdp2.py --grad-checkpointing
    torchrun --nproc_per_node=2 bench/gpu_fsdp2.py --cpu-smoke            # no GPU: a tiny model on gloo

Prints each step's loss, the steady step time, image tokens/s and peak memory, then checks the
checkpoint path: each rank's shards of the model and optimizer, written as the trainer writes them
(training.sharded_state.save_sharded: no gather), load into a fresh sharded model whose next step
gives the same loss as the original's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from modelzoo import FlagDiT, FlowMatching, get_config  # noqa: E402
from training.distributed import barrier, broadcast, init_distributed, wrap_model  # noqa: E402
from training.sharded_state import load_sharded, save_sharded  # noqa: E402


def build(args, cfg, device, world):
    torch.manual_seed(0)  # the same initial weights on every rank
    model = FlagDiT(cfg).to(device).train()
    wrap_model(model, world, "fsdp", device, bf16=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)  # not fused: the trainer's choice with FSDP2
    return model, opt


def make_step(model, opt, fm, x1, y, device):
    def step(seed: int) -> float:
        torch.manual_seed(seed)  # the same t and noise for a model and its restored copy
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = fm.training_loss(model, x1, y=y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
        opt.step()
        return float(loss.detach())
    return step


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="flag-dit-600m")
    p.add_argument("--batch", type=int, default=4, help="samples per rank")
    p.add_argument("--latent", default="128x126", help="latent HxW: 128x126, patch 2 and [nextline] is 4,096 tokens")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--grad-checkpointing", action="store_true")
    p.add_argument("--cpu-smoke", action="store_true", help="tiny model on CPU (gloo): checks the script runs")
    p.add_argument("--json", help="also write the summary here (rank 0)")
    args = p.parse_args()
    if args.cpu_smoke:
        args.config, args.batch, args.latent, args.steps, args.warmup = "flag-dit-tiny", 2, "16x14", 3, 1
    elif not torch.cuda.is_available():
        sys.exit("gpu_fsdp2.py needs a CUDA GPU (none found). Use --cpu-smoke to check the script on CPU.")
    if "WORLD_SIZE" not in os.environ:
        sys.exit("start it with torchrun, e.g. torchrun --nproc_per_node=1 bench/gpu_fsdp2.py")
    if not torch.distributed.is_initialized() and int(os.environ["WORLD_SIZE"]) == 1:
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")  # FSDP2 needs a group
    rank, world, device = init_distributed()

    H, W = (int(v) for v in args.latent.split("x"))
    cfg = get_config(args.config, num_classes=1000, grad_checkpointing=args.grad_checkpointing)
    model, opt = build(args, cfg, device, world)
    n_tokens = model.seq_len((1, H, W))
    g = torch.Generator().manual_seed(1 + rank)  # each rank its own samples
    x1 = torch.randn(args.batch, cfg.in_channels, 1, H, W, generator=g).to(device)
    y = torch.randint(0, 1000, (args.batch,), generator=g).to(device)
    fm = FlowMatching()
    step = make_step(model, opt, fm, x1, y, device)

    losses, times = [], []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for i in range(args.warmup + args.steps):
        sync(device)
        start = time.perf_counter()
        losses.append(step(100 + i))
        sync(device)
        times.append(time.perf_counter() - start)
        if rank == 0:
            print(f"step {i + 1}: loss {losses[-1]:.5f}, {times[-1] * 1e3:.0f} ms", flush=True)
    steady = sorted(times[args.warmup:])[len(times[args.warmup:]) // 2]
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")

    # the checkpoint path: every rank writes its shards as the trainer does, a fresh sharded model
    # and optimizer read them back, and the next step is compared with the original's
    folder = broadcast(tempfile.mkdtemp(prefix="gpu_fsdp2_") if rank == 0 else None)
    save_start = time.perf_counter()
    groups = save_sharded(folder, model, opt)
    save_s = time.perf_counter() - save_start
    restored, restored_opt = build(args, cfg, device, world)
    load_start = time.perf_counter()
    load_sharded(folder, restored, restored_opt, groups)
    load_s = time.perf_counter() - load_start
    barrier()  # every rank has read it
    if rank == 0:
        shutil.rmtree(folder, ignore_errors=True)
    next_original = step(10_000)
    next_restored = make_step(restored, restored_opt, fm, x1, y, device)(10_000)

    summary = dict(config=args.config, params=sum(p.numel() for p in model.parameters()),  # DTensor numel: the whole
                   world=world, device=str(device), batch_per_rank=args.batch, tokens_per_sample=n_tokens,
                   grad_checkpointing=args.grad_checkpointing, steady_step_ms=round(steady * 1e3, 1),
                   image_tokens_per_s=round(world * args.batch * n_tokens / steady), peak_gib=round(peak, 2),
                   losses=[round(v, 5) for v in losses], finite=all(math.isfinite(v) for v in losses),
                   checkpoint_save_s=round(save_s, 2), checkpoint_load_s=round(load_s, 2),
                   next_loss_original=next_original, next_loss_restored=next_restored,
                   restore_matches=next_original == next_restored)
    if rank == 0:
        print(json.dumps(summary, indent=1))
        if args.json:
            Path(args.json).write_text(json.dumps(summary, indent=1))
    barrier()
    torch.distributed.destroy_process_group()
    if not (summary["finite"] and summary["restore_matches"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
