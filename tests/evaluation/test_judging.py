"""The judges' shared network and loop (evaluation/judging.py)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from evaluation.judging import SmallCNN, fit, holdout_split


def test_one_step_is_adamw_at_3e_3_with_decay_1e_4():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    x, y = torch.randn(8, 4), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    before = [p.detach().clone() for p in model.parameters()]
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), list(model.parameters()))
    fit(model, lambda: (x, y), steps=1)
    for p0, g, p1 in zip(before, grads, model.parameters()):
        # AdamW's first step moves each weight by lr * g / |g| after decaying it by lr * weight_decay
        expected = p0 * (1 - 3e-3 * 1e-4) - 3e-3 * g / (g.abs() + 1e-8)
        torch.testing.assert_close(p1.detach(), expected, rtol=0, atol=1e-7)


def test_fit_draws_a_batch_per_step_and_leaves_the_model_training():
    drawn = []
    model = SmallCNN(1, 2)

    def batch():
        drawn.append(1)
        return torch.randn(2, 1, 8, 8), torch.tensor([0, 1])

    assert fit(model, batch, steps=3) is model and len(drawn) == 3 and model.training
    assert fit(model, batch, steps=0) is model and len(drawn) == 3


def test_small_cnn_shapes_stem_and_predict_in_eval_mode():
    net = SmallCNN(3, 7)
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 7)
    stemmed = SmallCNN(1, 10, head_grid=(5, 4), stem=nn.AvgPool2d((2, 1)))
    assert isinstance(stemmed.net[0], nn.AvgPool2d) and stemmed.net[-1].in_features == 32 * 20
    assert stemmed(torch.zeros(1, 1, 80, 32)).shape == (1, 10)
    net.train()
    x = torch.randn(4, 3, 16, 16)
    assert torch.equal(net.predict(x), net.predict(x)) and not net.training  # dropout off


def test_holdout_split_keeps_one_test_example_and_is_seeded():
    test, train = holdout_split(10, 0.25, torch.Generator().manual_seed(1))
    assert len(test) == 2 and len(train) == 8 and sorted(torch.cat([test, train]).tolist()) == list(range(10))
    assert len(holdout_split(3, 0.1, torch.Generator().manual_seed(1))[0]) == 1
    again = holdout_split(10, 0.25, torch.Generator().manual_seed(1))[0]
    assert torch.equal(test, again)
