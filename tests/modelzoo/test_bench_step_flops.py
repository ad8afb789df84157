"""bench/bench_step.py's FLOP count, behind its "% of the matmul peak" column."""

import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[2]


def _bench_step():
    spec = importlib.util.spec_from_file_location("bench_step", ROOT / "bench" / "bench_step.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cpu_sdpa_is_counted_forward_and_backward_with_the_recomputed_scores():
    B, H, N, M, d = 2, 3, 16, 8, 4
    q = torch.randn(B, H, N, d, requires_grad=True)
    k, v = (torch.randn(B, H, M, d, requires_grad=True) for _ in range(2))
    with FlopCounterMode(display=False, custom_mapping=_bench_step()._cpu_flash_attention_flops()) as counter:
        F.scaled_dot_product_attention(q, k, v).sum().backward()
    # forward: q k^T and p v; backward: q k^T again, then dv, dp, dq, dk: 2 + 5 products of 2 B H N M d
    assert counter.get_total_flops() == 7 * 2 * B * H * N * M * d


def test_a_step_counts_its_linears_and_its_attention():
    bench = _bench_step()
    x = torch.randn(2, 8, 16)
    lin = torch.nn.Linear(16, 16, bias=False)

    def step():
        h = lin(x).unflatten(-1, (2, 8)).transpose(1, 2)  # (2, 2 heads, 8 tokens, 8)
        F.scaled_dot_product_attention(h, h, h).sum().backward()

    linear = 2 * 2 * (2 * 8) * 16 * 16  # forward and dW (x needs no gradient)
    attention = 7 * 2 * 2 * 2 * 8 * 8 * 8
    assert bench.step_flops(step, compiled=False) == linear + attention
