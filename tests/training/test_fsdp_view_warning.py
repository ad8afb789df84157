"""FSDP2 warned on every step that the model returned a view: samples of different shapes come
back as views of one tensor each, and the loss reads them out of place."""

from __future__ import annotations

import warnings

import torch
import torch.distributed as dist

from modelzoo import FlagDiT
from modelzoo.config import get_config
from training.distributed import start_single_process_group, wrap_model


def test_fsdp2_on_a_batch_of_mixed_shapes_warns_nothing():
    model = FlagDiT(get_config("flag-dit-tiny", dim=32, n_layers=1, n_heads=2, cap_dim=16))
    started = start_single_process_group(torch.device("cpu"))
    try:
        x = [torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 16)]  # two shapes: the list path, views out
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # before wrap_model's own filter, as a user's setting would be
            net = wrap_model(model, 1, "fsdp", torch.device("cpu"), bf16=False)
            out = net(x, torch.rand(2), cap_feats=torch.randn(2, 3, 16), cap_mask=torch.ones(2, 3, dtype=torch.bool))
            sum(o.square().mean() for o in out).backward()
        assert [o.shape for o in out] == [(4, 1, 8, 8), (4, 1, 8, 16)] and any(o._base is not None for o in out)
        assert [str(w.message)[:60] for w in caught if "view tensor" in str(w.message)] == []
    finally:
        if started:
            dist.destroy_process_group()
