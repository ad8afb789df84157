"""modelzoo.linear: oneDNN GEMM for CPU fp32 linears, same numbers and gradients as F.linear."""

import pytest
import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from modelzoo import FlagDiT, get_config
from modelzoo.linear import Linear, linear, onednn_linear_enabled, set_onednn_linear

pytestmark = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="torch built without mkldnn")

ONEDNN_OP = "mkldnn::_linear_pointwise"


@pytest.fixture(autouse=True)
def _onednn_on():
    previous = set_onednn_linear(True)
    yield
    set_onednn_linear(previous)


def _ops(fn) -> list[str]:
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return [e.name for e in prof.events()]


def _grads(fn, x, lin, g):
    x.grad, lin.weight.grad = None, None
    if lin.bias is not None:
        lin.bias.grad = None
    y = fn(x)
    y.backward(g)
    return y.detach(), x.grad, lin.weight.grad, None if lin.bias is None else lin.bias.grad


@pytest.mark.parametrize("shape", [(2176, 384), (8, 272, 384), (2, 3, 5, 384)])
@pytest.mark.parametrize("bias", [False, True])
def test_matches_f_linear_in_value_and_every_gradient(shape, bias):
    torch.manual_seed(0)
    lin = Linear(384, 160, bias=bias)
    x = torch.randn(*shape, requires_grad=True)
    g = torch.randn(*shape[:-1], 160)
    ours = _grads(lin, x, lin, g)
    ref = _grads(lambda v: F.linear(v, lin.weight, lin.bias), x, lin, g)
    for a, b in zip(ours, ref):
        if b is None:
            assert a is None
        else:
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-4)


def test_strided_input_is_read_right():
    w = torch.randn(20, 384)
    x = torch.randn(384, 50).t()  # (50, 384), not contiguous
    torch.testing.assert_close(linear(x, w), x @ w.t(), rtol=1e-5, atol=1e-4)


def test_cpu_fp32_forward_and_input_gradient_run_on_onednn_weight_gradient_on_mm():
    lin = Linear(64, 32, bias=False)
    x = torch.randn(16, 64, requires_grad=True)
    y = lin(x)
    assert ONEDNN_OP in _ops(lambda: lin(x))
    backward_ops = _ops(lambda: y.backward(torch.ones_like(y)))
    assert backward_ops.count(ONEDNN_OP) == 1  # dx = g W
    assert "aten::mm" in backward_ops  # dW = g^T x


def test_frozen_weight_and_input_without_grad_skip_their_products():
    lin = Linear(64, 32, bias=True)
    lin.weight.requires_grad_(False)
    x = torch.randn(16, 64, requires_grad=True)
    y = lin(x)
    ops = _ops(lambda: y.sum().backward())
    assert "aten::mm" not in ops and lin.weight.grad is None and lin.bias.grad is not None
    lin.weight.requires_grad_(True)
    y = lin(torch.randn(16, 64))  # no input gradient wanted
    ops = _ops(lambda: y.sum().backward())
    assert ONEDNN_OP not in ops and lin.weight.grad is not None


def test_autocast_switched_off_and_non_fp32_inputs_take_f_linear():
    lin = Linear(64, 32)
    x = torch.randn(16, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert ONEDNN_OP not in _ops(lambda: lin(x))
        assert lin(x).dtype == torch.bfloat16
    assert ONEDNN_OP not in _ops(lambda: linear(x.double(), lin.weight.double()))
    lin.onednn = False  # this layer only
    assert ONEDNN_OP not in _ops(lambda: lin(x))
    assert ONEDNN_OP in _ops(lambda: Linear(64, 32)(x))
    set_onednn_linear(False)  # every layer
    assert not onednn_linear_enabled()
    assert ONEDNN_OP not in _ops(lambda: Linear(64, 32)(x))


def test_flop_counter_counts_forward_and_backward():
    lin = Linear(64, 32, bias=False)
    x = torch.randn(16, 64, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        lin(x).sum().backward()
    assert counter.get_total_flops() == 3 * 2 * 16 * 64 * 32  # y, dx, dW


@pytest.mark.xdist_group("torch-compile")  # beside tests/training/test_compile.py: Inductor warmed once per worker
def test_compiled_module_keeps_the_op_in_one_graph_and_matches_eager():
    torch.manual_seed(0)
    lin = Linear(64, 48, bias=True)
    x = torch.randn(4, 10, 64, requires_grad=True)
    g = torch.randn(4, 10, 48)
    compiled = torch.compile(lambda v: F.silu(lin(v)), fullgraph=True)
    got = _grads(compiled, x, lin, g)
    want = _grads(lambda v: F.silu(lin(v)), x, lin, g)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_flag_dit_block_linears_use_it_and_keep_state_dict_keys():
    cfg = get_config("flag-dit-s", dim=64, n_layers=1, n_heads=2, cap_dim=32)
    model = FlagDiT(cfg)
    block = model.layers[0]
    for lin in (block.attention.qkv, block.attention.wo, block.attention.kv_y,
                block.feed_forward.w1, block.feed_forward.w2, block.feed_forward.w3):
        assert isinstance(lin, Linear)
    assert "layers.0.attention.qkv.weight" in model.state_dict()
    x, t = torch.randn(2, 4, 1, 8, 8), torch.rand(2)
    cap, mask = torch.randn(2, 5, 32), torch.ones(2, 5, dtype=torch.bool)
    assert ONEDNN_OP in _ops(lambda: model(x, t, cap_feats=cap, cap_mask=mask))


def test_every_f_linear_fallback_keeps_the_bias():
    lin = Linear(64, 32)
    torch.nn.init.normal_(lin.bias)  # a bias a dropped one would show
    x = torch.randn(16, 64)
    want = F.linear(x, lin.weight, lin.bias)
    torch.testing.assert_close(linear(x.double(), lin.weight.double(), lin.bias.double()), want.double(), rtol=1e-5, atol=1e-5)
    lin.onednn = False
    torch.testing.assert_close(lin(x), want)
