"""nn.Linear whose CPU fp32 forward and input gradient run on oneDNN's GEMM.

Why: on this machine's CPU on 2026-12-04 (an AMD EPYC with AVX-512, no AMX; torch 2.14, one
thread, M = 2176 tokens, K and N 384-1152, the S-size block's shapes) oneDNN (`torch.ops.mkldnn._linear_pointwise`, the kernel Inductor uses for frozen
inference weights) runs y = x W^T and dx = g W at 95-105 GFLOP/s, where aten's fp32 `mm`
(MKL sgemm) runs 75-93. For dW = g^T x MKL is as fast or faster, so dW stays `mm`.
Everywhere else (autocast, low precision, GPU, no mkldnn) this is F.linear. MKL's sgemm may do
better on Intel CPUs: `python bench/bench_linear_gemm.py` tells, in a minute.

Set LUMINA_ONEDNN_LINEAR=0 (read at import) or call `set_onednn_linear(False)` to compare.
The op is a `torch.library.custom_op`, so torch.compile keeps it whole (Inductor's own lowering
of the mkldnn op wants constant weights) and FlopCounterMode counts it.
"""

from __future__ import annotations

import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import register_flop_formula


def _available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


_enabled = _available() and os.environ.get("LUMINA_ONEDNN_LINEAR", "1") != "0"


def set_onednn_linear(enabled: bool) -> bool:
    """Turn the oneDNN path on or off (off where mkldnn is missing); returns the previous setting."""
    global _enabled
    previous, _enabled = _enabled, bool(enabled) and _available()
    return previous


def onednn_linear_enabled() -> bool:
    return _enabled


@torch.library.custom_op("lumina::onednn_linear", mutates_args=())
def onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """x (..., K) @ weight (N, K)^T + bias, fp32 on CPU; weight may be a transposed view."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


@onednn_linear.register_fake
def _(x, weight, bias):
    return x.new_empty((*x.shape[:-1], weight.shape[0]))


def _setup_context(ctx, inputs, output):
    x, weight, bias = inputs
    ctx.save_for_backward(x, weight)
    ctx.has_bias = bias is not None


def _backward(ctx, grad):
    x, weight = ctx.saved_tensors
    dx = dw = db = None
    if ctx.needs_input_grad[0]:
        dx = onednn_linear(grad, weight.t(), None)  # g W: weight^T as a view, no copy
    grad_2d = grad.reshape(-1, grad.shape[-1])
    if ctx.needs_input_grad[1]:
        dw = grad_2d.t() @ x.reshape(-1, x.shape[-1])  # MKL: as fast as oneDNN here
    if ctx.has_bias and ctx.needs_input_grad[2]:
        db = grad_2d.sum(0)
    return dx, dw, db


onednn_linear.register_autograd(_backward, setup_context=_setup_context)


@register_flop_formula(torch.ops.lumina.onednn_linear)
def _flops(x_shape, w_shape, *args, out_shape=None, **kwargs) -> int:
    return 2 * math.prod(x_shape[:-1]) * x_shape[-1] * w_shape[0]


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    if (_enabled and x.device.type == "cpu" and x.dtype == torch.float32 and weight.dtype == torch.float32
            and not torch.is_autocast_enabled("cpu")):
        return onednn_linear(x, weight, bias)
    return F.linear(x, weight, bias)


class Linear(nn.Linear):
    """nn.Linear (same parameters and state_dict keys) through `linear`; `onednn = False` on an
    instance keeps that layer on F.linear (the benchmarks' A/B within one process)."""

    onednn = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.onednn:
            return linear(x, self.weight, self.bias)
        return F.linear(x, self.weight, self.bias)
