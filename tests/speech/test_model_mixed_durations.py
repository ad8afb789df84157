"""A batch mixing a 0.5 s and a 2 s utterance ([PAD] + mask) gives the 2 s one the same output
as alone, in the speech layout (80 mel channels, (1, 4) patches along time) with phone features."""

from __future__ import annotations

import torch

from modelzoo import FlagDiT, get_config
from encoders.audio.mel import MEL


def frames(seconds: float) -> int:
    return int(seconds * MEL.sample_rate / MEL.hop) + 1


def test_mixed_durations_batch_matches_alone():
    torch.manual_seed(0)
    cap_dim = 16
    model = FlagDiT(get_config("flag-dit-tiny", in_channels=80, cap_dim=cap_dim, patch_size=(1, 4))).eval()
    for p in model.parameters():  # zero-initialised gates and final layer would hide any leak
        p.data.add_(0.02 * torch.randn_like(p))
    short, long = torch.randn(80, 1, 1, frames(0.5)), torch.randn(80, 1, 1, frames(2.0))
    feats = torch.randn(2, 12, cap_dim)
    mask = torch.ones(2, 12, dtype=torch.bool)
    mask[0, 7:] = False
    t = torch.tensor([0.3, 0.6])
    with torch.no_grad():
        both = model([short, long], t, cap_feats=feats, cap_mask=mask)
        alone = model([long], t[1:], cap_feats=feats[1:], cap_mask=mask[1:])
    assert both[1].shape == long.shape
    torch.testing.assert_close(both[1], alone[0], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(both[0][..., :8], alone[0][..., :8])  # the model does depend on its input
