"""--cfg 1 (the help's 'no guidance') samples with the conditional prediction alone: u + 1 (c - u) is
c, yet every step ran the model on the unconditional half too, a forward of 2B for B samples
(measured: 20 forwards of batch 8 for 4 samples at 20 steps; now of batch 4). Other scales still
batch both halves."""

from __future__ import annotations

import torch

from modelzoo.transport.inference import sample


def _batches(cfg_scale: float) -> tuple[set[int], torch.Tensor]:
    seen: set[int] = set()

    def model(x, t, cap_feats, cap_mask):
        seen.add(x.shape[0])
        return x * 0 + cap_feats.mean(dim=(1, 2)).view(-1, 1, 1, 1, 1)  # the caption steers it

    noise = torch.zeros(4, 3, 1, 4, 4)
    cond = dict(cap_feats=torch.ones(4, 2, 8), cap_mask=torch.ones(4, 2, dtype=torch.bool))
    uncond = dict(cap_feats=torch.zeros(4, 2, 8), cap_mask=torch.ones(4, 2, dtype=torch.bool))
    out = sample(model, noise, cond=cond, uncond=uncond, cfg_scale=cfg_scale, steps=3)
    return seen, out


def test_cfg_one_runs_the_conditional_half_only():
    seen, out = _batches(1.0)
    assert seen == {4}
    assert torch.allclose(out, torch.ones_like(out))  # v = c = 1 from t 0 to 1


def test_other_scales_batch_both_halves():
    seen, out = _batches(3.0)
    assert seen == {8}
    assert torch.allclose(out, torch.full_like(out, 3.0))  # u + 3 (c - u) = 3
    seen, out = _batches(0.0)
    assert seen == {8} and torch.allclose(out, torch.zeros_like(out))  # the unconditional prediction
