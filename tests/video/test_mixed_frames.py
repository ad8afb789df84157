"""A text-conditioned Flag-DiT trains on a batch mixing 4- and 8-frame clips: [PAD] and the
attention mask keep each clip's output independent of the other, and [nextframe] is learned."""

from __future__ import annotations

import pytest
import torch

from modelzoo import FlagDiT, FlowMatching, get_config


def _model(rope: str) -> FlagDiT:
    torch.manual_seed(0)
    cfg = get_config("flag-dit-tiny", in_channels=1, patch_size=4, dim=32, n_layers=2, n_heads=2, multiple_of=32, cap_dim=8,
                     rope=rope, axial_frames=True)
    return FlagDiT(cfg)


def _batch():
    g = torch.Generator().manual_seed(1)
    clips = [torch.randn(1, 4, 8, 8, generator=g), torch.randn(1, 8, 8, 8, generator=g)]
    return clips, torch.randn(2, 5, 8, generator=g), torch.ones(2, 5, dtype=torch.bool)


@pytest.mark.parametrize("rope", ["1d", "axial"])
def test_mixed_frame_batch_trains_and_keeps_clips_independent(rope):
    model = _model(rope)
    clips, feats, mask = _batch()
    assert model.seq_len((8, 8, 8)) > model.seq_len((4, 8, 8))  # the 4-frame clip is padded in the batch
    before = model.nextframe_token.detach().clone()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    fm = FlowMatching(timesteps="uniform")
    model.train()
    for _ in range(4):  # the zero-initialised final layer passes no gradient upstream on the first step
        loss = fm.training_loss(model, clips, cap_feats=feats, cap_mask=mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert model.nextframe_token.grad is not None and model.nextframe_token.grad.abs().sum() > 0
    assert torch.isfinite(loss) and not torch.equal(before, model.nextframe_token.detach())  # [nextframe] is learned

    model.eval()
    t = torch.tensor([0.3, 0.7])
    with torch.no_grad():
        both = model(clips, t, cap_feats=feats, cap_mask=mask)
        long_alone = model([clips[1]], t[1:], cap_feats=feats[1:], cap_mask=mask[1:])[0]
        short_alone = model([clips[0]], t[:1], cap_feats=feats[:1], cap_mask=mask[:1])[0]
    assert both[1].shape == clips[1].shape and both[0].shape == clips[0].shape
    torch.testing.assert_close(both[1], long_alone, atol=1e-5, rtol=1e-4)  # padding of the other clip changes nothing
    torch.testing.assert_close(both[0], short_alone, atol=1e-5, rtol=1e-4)  # nor do the 8-frame clip's extra tokens


def test_nextframe_token_reaches_the_output():
    model = _model("axial").eval()
    clips, feats, mask = _batch()
    t = torch.tensor([0.5])
    with torch.no_grad():
        for p in model.parameters():  # away from the zero-initialised gates and final layer
            p.add_(0.1 * torch.randn_like(p))
        model.nextframe_token.normal_()
        a = model([clips[1]], t, cap_feats=feats[1:], cap_mask=mask[1:])[0]
        model.nextframe_token.normal_()
        b = model([clips[1]], t, cap_feats=feats[1:], cap_mask=mask[1:])[0]
    assert (a - b).abs().max() > 1e-4
