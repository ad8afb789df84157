"""The three GEMMs of a linear layer at Flag-DiT's block shapes: aten's fp32 `mm` (MKL) against
oneDNN (`torch.ops.mkldnn._linear_pointwise`), the choice behind `modelzoo/linear.py`.

y = x W^T (forward), dx = g W (input gradient), dW = g^T x (weight gradient), for every linear of
one block (qkv, wo, w1, w3, w2) at M = batch x tokens rows. Variants run interleaved, round by
round, so the host's drift hits them alike; each prints the median over rounds of the block's
total and its GFLOP/s, and the ratio to aten.

    python bench/bench_linear_gemm.py                       # S: dim 384, hidden 1024, M 2176
    python bench/bench_linear_gemm.py --dim 768 --hidden 2048
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def variants() -> dict[str, dict]:
    onednn = torch.ops.mkldnn._linear_pointwise

    def dnn(a, b):  # a @ b^T
        return onednn(a, b, None, "none", [], "")

    return {
        "forward": {"aten mm": lambda x, w, g: x @ w.t(), "oneDNN": lambda x, w, g: dnn(x, w)},
        "input gradient": {"aten mm": lambda x, w, g: g @ w, "oneDNN": lambda x, w, g: dnn(g, w.t())},
        "weight gradient": {"aten mm": lambda x, w, g: g.t() @ x, "oneDNN": lambda x, w, g: dnn(g.t(), x.t())},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--hidden", type=int, default=1024, help="feed-forward width")
    p.add_argument("--rows", type=int, default=8 * 272, help="M: batch x tokens (S bench: 8 x 272)")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    D, F, M = args.dim, args.hidden, args.rows
    shapes = [(D, 3 * D), (D, D), (D, F), (D, F), (F, D)]  # (in, out): qkv, wo, w1, w3, w2
    data = [(torch.randn(M, k), torch.randn(n, k), torch.randn(M, n)) for k, n in shapes]
    flops = sum(2 * M * k * n for k, n in shapes)
    print(f"M {M}, dim {D}, hidden {F}, {args.threads} thread(s), {args.rounds} interleaved rounds, "
          f"torch {torch.__version__}")
    for product, impls in variants().items():
        times: dict[str, list[float]] = {name: [] for name in impls}
        for name, fn in impls.items():  # warm-up: oneDNN JIT-compiles a kernel per shape
            for x, w, g in data:
                fn(x, w, g)
        for _ in range(args.rounds):
            for name, fn in impls.items():
                total = 0.0
                for x, w, g in data:
                    start = time.perf_counter()
                    fn(x, w, g)
                    total += time.perf_counter() - start
                times[name].append(total)
        base = statistics.median(times["aten mm"])
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"{product:<16} {name:<8} {med * 1e3:7.1f} ms per block  {flops / med / 1e9:6.1f} GFLOP/s  "
                  f"{base / med:5.2f}x aten")


if __name__ == "__main__":
    main()
