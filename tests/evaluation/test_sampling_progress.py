"""Sampling reports its progress per model evaluation: evaluation and `lumina sample` draw a bar
that reaches its total (steps x evaluations per step x batches)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch


def _zero_velocity(x, t, **cond):
    return torch.zeros_like(x)


@pytest.mark.parametrize("solver, steps, calls", [("euler", 5, 5), ("midpoint", 3, 6), ("rk4", 3, 12)])
def test_sample_calls_back_once_per_model_evaluation(solver, steps, calls):
    from modelzoo import sample

    seen = []
    cond = {"cap_feats": torch.zeros(2, 4, 8)}
    sample(_zero_velocity, torch.randn(2, 3, 1, 4, 4), cond=cond, uncond=cond, cfg_scale=4.0, solver=solver, steps=steps,
           on_model_eval=lambda: seen.append(1))
    assert len(seen) == calls


def test_an_evaluation_s_sampling_bar_reaches_its_total(monkeypatch):
    import evaluation.sampling as sampling
    from training.data import Example, NullCaption

    bars = []
    real = sampling.sampling_bar
    monkeypatch.setattr(sampling, "sampling_bar", lambda *a: bars.append(real(*a)) or bars[-1])
    examples = [Example(f"k{i}", torch.zeros(3, 1, 4, 4), torch.zeros(4, 8), torch.ones(4, dtype=torch.bool), "a seven", "holdout")
                for i in range(5)]
    null = NullCaption(torch.zeros(4, 8), torch.ones(4, dtype=torch.bool))
    cfg = SimpleNamespace(batch_size=2, solver="midpoint", steps=3, cfg_scale=4.0, shift=1.0)
    sampling.generate(_zero_velocity, null, examples, cfg, seed=0)
    (bar,) = bars
    assert bar.total == 3 * 2 * 3 and bar.n == bar.total  # 3 batches of 2, 2, 1; 3 steps of 2 evaluations


def test_an_adaptive_solver_s_bar_has_no_total():
    from evaluation.sampling import sampling_bar

    bar = sampling_bar(4, 2, "dopri5", 30)
    assert bar.total is None
    bar.close()
