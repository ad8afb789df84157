"""EMA warm-up behaviour that mutmut showed no test pinned (bench/mutation/REPORT.md)."""

from __future__ import annotations

import pytest
import torch

from training.ema import ModelEMA, ema_decay_at


def test_ema_decay_warms_up_unless_told_not_to():
    assert ema_decay_at(0, 0.999) == pytest.approx(0.1)  # (1 + 0) / (10 + 0): early weights are not frozen in
    assert ema_decay_at(90, 0.999) == pytest.approx(0.91)
    assert ema_decay_at(10_000, 0.999) == 0.999  # capped at the configured decay
    assert ema_decay_at(0, 0.999, warmup=False) == 0.999


def test_ema_without_warm_up_keeps_the_configured_share_from_the_first_step():
    start, trained = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    ema = ModelEMA(start, decay=0.9, warmup=False)
    ema.update(trained, step=0)
    torch.testing.assert_close(ema.module.weight, 0.9 * start.weight + 0.1 * trained.weight)
    warm = ModelEMA(start, decay=0.9)
    warm.update(trained, step=0)
    torch.testing.assert_close(warm.module.weight, 0.1 * start.weight + 0.9 * trained.weight)


def test_ema_copy_is_frozen_and_leaves_the_model_trainable():
    # the EMA copy is only ever lerped and sampled from: no autograd graph, no optimizer state
    model = torch.nn.Linear(2, 2)
    ema = ModelEMA(model, decay=0.9)
    assert not any(p.requires_grad for p in ema.module.parameters())
    assert all(p.requires_grad for p in model.parameters()) and ema.module is not model
