"""What a checkpoint costs the training loop, written synchronously and in the background
(``TrainConfig.async_checkpoint``), side by side in one process.

Each round trains the same Flag-DiT for --steps steps (forward, backward, AdamW, EMA) and writes a
checkpoint every --every steps through the trainer's own ``_save_checkpoint`` (weights, EMA, AdamW
moments, RNG: what a resumable checkpoint holds), once synchronous and once asynchronous, in
alternating order. Printed per mode: the median round's wall time, the training loop's time in
checkpoints (synchronous: the whole write; asynchronous: the in-memory copy and any wait for the
previous write), and the ratios.

    .venv/bin/python bench/bench_async_checkpoint.py                 # flag-dit-b (131M), 2 rounds
    .venv/bin/python bench/bench_async_checkpoint.py --config flag-dit-s --batch 8 --latent 32
    python bench/bench_async_checkpoint.py --device cuda --batch 16 --latent 64 --steps 30 --every 10  # bench/gpu_checks.sh

A small batch keeps the step short, as on a GPU, where the step is short next to a checkpoint.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def one_round(args, asynchronous: bool, root: Path) -> tuple[float, float, int]:
    import numpy as np
    import torch

    from modelzoo import FlagDiT, FlowMatching, get_config
    from training.checkpoint_writer import CheckpointWriter
    from training.ema import ModelEMA
    from training.state import prune
    from training.stream import Position
    from training.trainer import TrainConfig, _save_checkpoint

    torch.manual_seed(0)
    device = torch.device(args.device)
    model = FlagDiT(get_config(args.config, in_channels=4, cap_dim=64)).to(device)
    ema = ModelEMA(model, 0.999)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    fm = FlowMatching()
    out = root / ("async" if asynchronous else "sync")
    null = root / "null_caption.npz"
    np.savez(null, cap_feats=np.zeros((8, 64), np.float32))
    cfg = TrainConfig(catalog="-", manifest="-", out_dir=str(out), null_caption=str(null), async_checkpoint=asynchronous)
    ctx = dict(cfg=cfg, encoders={}, manifest=("bench", 1), latent_shape=[4, 1, args.latent, args.latent],
               run_seconds=lambda: 0.0)  # the trainer's: the run's training time, saved in train_state.json
    writer = CheckpointWriter(asynchronous)
    B = args.batch
    x1 = torch.randn(B, 4, 1, args.latent, args.latent, device=device)  # [B, C, T, H, W]: images, T = 1
    cap, mask = torch.randn(B, 8, 64, device=device), torch.ones(B, 8, dtype=torch.bool, device=device)
    in_checkpoints, written = 0.0, []
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        loss = fm.training_loss(model, x1, cap_feats=cap, cap_mask=mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        ema.update(model, step)
        if step % args.every == 0:
            t0 = time.perf_counter()
            _save_checkpoint(out, step, 0, model, ema, opt, sched, Position(0, step), [], [], [], ctx, writer,
                             lambda path: (written.append(path), prune(out, 1)))
            in_checkpoints += time.perf_counter() - t0
    t0 = time.perf_counter()
    writer.wait()  # a run ends with its last checkpoint on disk
    in_checkpoints += time.perf_counter() - t0
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    writer.close()
    shutil.rmtree(out, ignore_errors=True)
    return wall, in_checkpoints, len(written)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="flag-dit-b")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--latent", type=int, default=16, help="latent side (patch 2: (latent/2)^2 tokens)")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--every", type=int, default=3, help="a checkpoint every N steps")
    p.add_argument("--rounds", type=int, default=2, help="rounds per mode, alternating which goes first")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, all cores)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--cpu-smoke", action="store_true", help="a tiny model, a few steps, one round (the script works)")
    p.add_argument("--dir", default=None, help="where checkpoints are written (default: a temporary folder)")
    args = p.parse_args()
    if args.cpu_smoke:
        args.config, args.device, args.steps, args.every, args.rounds = "flag-dit-tiny", "cpu", 4, 2, 1

    import torch

    from modelzoo import FlagDiT, get_config

    if args.threads:
        torch.set_num_threads(args.threads)
    root = Path(args.dir or tempfile.mkdtemp(prefix="bench_async_ckpt_"))
    root.mkdir(parents=True, exist_ok=True)
    params = sum(p.numel() for p in FlagDiT(get_config(args.config, in_channels=4, cap_dim=64)).parameters())
    print(f"{args.config}: {params / 1e6:.1f}M parameters, checkpoint state ~{params * 16 / 2**30:.2f} GiB "
          f"(weights, EMA, two AdamW moments, fp32); batch {args.batch}, latent {args.latent}; "
          f"{args.steps} steps, a checkpoint every {args.every}; {torch.get_num_threads()} threads; in {root}")
    one_round(args, False, root)  # warm-up: allocator, page cache, lazy imports
    runs: dict[bool, list[tuple[float, float, int]]] = {False: [], True: []}
    for r in range(args.rounds):
        for asynchronous in ((False, True) if r % 2 == 0 else (True, False)):
            runs[asynchronous].append(one_round(args, asynchronous, root))
            wall, ck, n = runs[asynchronous][-1]
            print(f"round {r + 1} {'async' if asynchronous else 'sync ':5s}: {wall:7.2f} s wall, {ck:6.2f} s in {n} checkpoints")
    med = {a: (statistics.median(w for w, _, _ in rs), statistics.median(c for _, c, _ in rs)) for a, rs in runs.items()}
    (sw, sc), (aw, ac) = med[False], med[True]
    print(f"\nmedian round  sync: {sw:.2f} s wall, {sc:.2f} s in checkpoints ({sc / sw:.0%} of the run)")
    print(f"median round async: {aw:.2f} s wall, {ac:.2f} s in checkpoints ({ac / aw:.0%} of the run)")
    print(f"the loop's time in checkpoints: async / sync = {ac / sc:.2f}; wall time: sync / async = {sw / aw:.2f}x")
    if not args.dir:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
