"""Behaviour of the flow-matching schedule and the integrators that mutmut showed no test pinned
(bench/mutation/REPORT.md): each test names what a user would lose if it broke."""

from __future__ import annotations

import math

import pytest
import torch

from modelzoo.transport.flow_matching import FlowMatching, interpolate, inverse_time_shift, time_shift
from modelzoo.transport.samplers import integrate


@pytest.mark.parametrize("shift", [1.0, 2.0, 3.0, 0.5])
def test_inverse_time_shift_undoes_the_shift(shift):
    t = torch.linspace(0, 1, 11)
    assert torch.allclose(time_shift(inverse_time_shift(t, shift), shift), t, atol=1e-6)
    assert torch.allclose(inverse_time_shift(time_shift(t, shift), shift), t, atol=1e-6)


@pytest.mark.parametrize("shift", [2.0, 3.0])
def test_time_shift_moves_the_midpoint_to_the_noise_end(shift):
    # t' = t / (t + s - s t): at t = 1/2, t' = 1 / (1 + s)
    assert time_shift(torch.tensor([0.5]), shift).item() == pytest.approx(1 / (1 + shift))
    assert inverse_time_shift(torch.tensor([1 / (1 + shift)]), shift).item() == pytest.approx(0.5)


@pytest.mark.parametrize("timesteps", ["uniform", "logit_normal"])
def test_timesteps_follow_the_generator_given(timesteps):
    # the trainer seeds one generator per sample so a resumed or re-sharded run draws the same t
    fm = FlowMatching(timesteps)
    torch.manual_seed(0)  # a global state of our own: a mutmut worker inherits whatever its parent left
    a = fm.sample_t(64, generator=torch.Generator().manual_seed(7))
    torch.manual_seed(123)
    b = fm.sample_t(64, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    assert not torch.equal(a, fm.sample_t(64, generator=torch.Generator().manual_seed(8)))


@pytest.mark.parametrize("as_list", [False, True])
def test_interpolation_keeps_a_low_precision_latent_dtype(as_list):
    x0 = torch.zeros(2, 3, 4, dtype=torch.bfloat16)
    x1 = torch.ones(2, 3, 4, dtype=torch.bfloat16)
    t = torch.tensor([0.25, 0.75])  # fp32 timesteps, as sample_t gives them
    xt = interpolate(list(x0), list(x1), t) if as_list else interpolate(x0, x1, t)
    for i, x in enumerate(xt):
        assert x.dtype == torch.bfloat16 and torch.allclose(x.float(), torch.full((3, 4), t[i].item()), atol=1e-2)


def _oscillating(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return x * 10 * torch.cos(30 * t)  # x(t) = x0 exp(sin(30 t) / 3)


def test_dopri5_default_tolerances_solve_to_about_a_percent():
    v = lambda x, t: x * torch.cos(3 * t)  # x(1) = exp(sin(3) / 3)
    out = integrate(v, torch.ones(4), torch.tensor([0.0, 1.0]), "dopri5")
    assert torch.allclose(out, torch.full((4,), math.exp(math.sin(3) / 3)), rtol=1e-2)


def test_dopri5_ends_at_the_last_time_of_a_longer_grid():
    grid = torch.linspace(0, 1, 10)
    ends = integrate(_oscillating, torch.ones(3), grid[[0, -1]], "dopri5", atol=1e-8, rtol=1e-8)
    on_grid = integrate(_oscillating, torch.ones(3), grid, "dopri5", atol=1e-8, rtol=1e-8)
    assert torch.allclose(on_grid, ends, rtol=1e-5)
    assert torch.allclose(on_grid, torch.full((3,), math.exp(math.sin(30) / 3)), rtol=1e-4)


def _evaluations(x0: torch.Tensor, atol: float, rtol: float) -> int:
    calls = []
    integrate(lambda x, t: calls.append(1) or _oscillating(x, t), x0, torch.tensor([0.0, 1.0]), "dopri5",
              atol=atol, rtol=rtol)
    return len(calls)


def test_dopri5_honours_both_tolerances():
    small = torch.full((4,), 1e-3)  # |x| ~ 1e-3: a loose atol dominates rtol * |x|
    assert _evaluations(small, atol=1e-2, rtol=1e-2) < _evaluations(small, atol=1e-9, rtol=1e-2)
    assert _evaluations(small, atol=1e-9, rtol=1e-2) < _evaluations(small, atol=1e-9, rtol=1e-6)


def test_training_loss_takes_a_list_of_one_sample():
    # a batch of one variable-size sample is a one-element list (the last batch of a bucket)
    x1 = [torch.randn(4, 1, 2, 2)]
    loss = FlowMatching().training_loss(lambda x, t: [torch.zeros_like(v) for v in x], x1)
    assert loss.ndim == 0 and torch.isfinite(loss)
