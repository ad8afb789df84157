"""bf16 forward + backward of flag-dit-600m at ~4,096 tokens per sample: achieved TFLOP/s, and the
fraction of a bf16 matmul peak measured in this same script on this same GPU.

    python bench/gpu_flagdit_600m.py                   # class-conditional 600M, 4 x 4,096 tokens
    python bench/gpu_flagdit_600m.py --cap-dim 4096    # the text-conditioned variant
    python bench/gpu_flagdit_600m.py --compile         # torch.compile the model first
    python bench/gpu_flagdit_600m.py --cpu-smoke       # no GPU: a tiny model through the same code

FLOPs are model FLOPs (the MFU convention): 2 per multiply-add of every matmul in the forward,
attention scores and values included, and twice that for the backward; recomputation (flash
attention's backward, activation checkpointing) is not counted as useful work.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from modelzoo import FlagDiT, FlagDiTConfig, get_config  # noqa: E402


def forward_flops(cfg: FlagDiTConfig, n_tokens: int, n_patches: int, cap_len: int) -> float:
    """Matmul FLOPs of one sample's forward pass."""
    D, hd = cfg.dim, cfg.head_dim
    kv = cfg.kv_heads * hd
    per_token = D * (D + 2 * kv) + D * D + 3 * D * cfg.ffn_hidden  # qkv, wo, SwiGLU
    flops = 2 * n_tokens * per_token * cfg.n_layers
    flops += 4 * n_tokens * n_tokens * D * cfg.n_layers  # q k^T and p v
    if cfg.cap_dim:
        flops += 2 * cap_len * cfg.cap_dim * 2 * kv * cfg.n_layers  # text keys and values
        flops += 4 * n_tokens * cap_len * D * cfg.n_layers  # cross-attention
    p2c = cfg.patch_dim  # ph * pw * C
    flops += 2 * n_patches * p2c * D + 2 * n_tokens * D * p2c  # patch embedding, final layer
    return float(flops)


def matmul_peak(device: torch.device, n: int = 8192, iters: int = 20) -> float:
    """bf16 TFLOP/s of a large square matmul: the practical peak to compare against."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        a @ b
    _sync(device)
    return 2 * n**3 * iters / (time.perf_counter() - start) / 1e12


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="flag-dit-600m")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--latent", default="128x126",
                   help="latent HxW; 128x126 with patch 2 and [nextline] is exactly 4,096 tokens")
    p.add_argument("--cap-dim", type=int, default=0, help="0: class-conditional (1,000 classes)")
    p.add_argument("--cap-len", type=int, default=128)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--grad-checkpointing", action="store_true")
    p.add_argument("--cpu-smoke", action="store_true", help="tiny model on CPU: checks the script runs")
    args = p.parse_args()

    if args.cpu_smoke:
        device = torch.device("cpu")
        args.config, args.batch, args.latent, args.steps, args.warmup = "flag-dit-tiny", 2, "16x14", 2, 1
        args.cap_len = min(args.cap_len, 8)
    elif not torch.cuda.is_available():
        sys.exit("gpu_flagdit_600m.py needs a CUDA GPU (none found). Use --cpu-smoke to check the script on CPU.")
    else:
        device = torch.device("cuda")
        torch.backends.cuda.matmul.allow_tf32 = True

    H, W = (int(v) for v in args.latent.split("x"))
    overrides = dict(cap_dim=args.cap_dim) if args.cap_dim else dict(num_classes=1000)
    cfg = get_config(args.config, grad_checkpointing=args.grad_checkpointing, **overrides)
    torch.manual_seed(0)
    model = FlagDiT(cfg).to(device).train()
    n_tokens = model.seq_len((1, H, W))
    n_patches = -(-H // cfg.patch_hw[0]) * -(-W // cfg.patch_hw[1])
    B = args.batch
    x = torch.randn(B, cfg.in_channels, 1, H, W, device=device)
    t = torch.rand(B, device=device)
    kwargs = {}
    if cfg.cap_dim:
        kwargs["cap_feats"] = torch.randn(B, args.cap_len, cfg.cap_dim, device=device)
        kwargs["cap_mask"] = torch.ones(B, args.cap_len, dtype=torch.bool, device=device)
    else:
        kwargs["y"] = torch.randint(0, 1000, (B,), device=device)
    forward = torch.compile(model) if args.compile else model

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            v = forward(x, t, **kwargs)
        v.float().square().mean().backward()
        for param in model.parameters():
            param.grad = None

    for _ in range(args.warmup):
        step()
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    _sync(device)
    seconds = (time.perf_counter() - start) / args.steps

    flops = 3 * forward_flops(cfg, n_tokens, n_patches, args.cap_len) * B  # forward + 2x backward
    achieved = flops / seconds / 1e12
    peak = matmul_peak(device, n=128 if args.cpu_smoke else 8192, iters=2 if args.cpu_smoke else 20)  # the smoke checks the lines, not the peak
    name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU (smoke test: numbers are meaningless)"
    print(f"device: {name}")
    print(f"model: {args.config}, {model.parameter_count() / 1e9:.3f}B params, "
          f"{'text cap_dim ' + str(cfg.cap_dim) if cfg.cap_dim else 'class-conditional'}"
          f"{', torch.compile' if args.compile else ''}{', grad checkpointing' if args.grad_checkpointing else ''}")
    print(f"batch {B} x {n_tokens} tokens (latent {H}x{W}, patch {cfg.patch_size}, {n_patches} patches + separators)")
    print(f"step (bf16 forward + backward): {seconds * 1e3:.1f} ms, {B * n_tokens / seconds:,.0f} tokens/s")
    print(f"model FLOPs per step: {flops / 1e12:.2f} TFLOP -> {achieved:.1f} TFLOP/s")
    print(f"bf16 matmul peak measured here: {peak:.1f} TFLOP/s -> {achieved / peak:.1%} of peak")
    if device.type == "cuda":
        print(f"peak memory: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
