"""What make_inputs promises the trainer (bench/mutation): each sample's timestep, noise and
caption dropout depend on (seed, step, position in the global batch) only, not on which rank holds
it, and the loader's tensors pass through with their structure."""

from __future__ import annotations

import torch

from modelzoo import FlowMatching
from training.data import NullCaption
from training.trainer import TrainConfig, make_inputs

B, L, D = 4, 3, 2
NULL = NullCaption(torch.zeros(L, D), torch.tensor([True, False, False]))


def _item(x1, positions, frame_cond=None):
    n = len(positions)
    batch = {"x1": x1, "cap_feats": torch.ones(n, L, D), "cap_mask": torch.ones(n, L, dtype=torch.bool)}
    if frame_cond is not None:
        batch["frame_cond"] = frame_cond
    return {"batch": batch, "positions": positions}


def test_a_sample_draws_the_same_inputs_whichever_rank_holds_it():
    cfg = TrainConfig(caption_dropout=0.5, seed=3)
    x1 = torch.randn(B, 3, 1, 2, 2)
    whole = make_inputs(_item(x1, [0, 1, 2, 3]), NULL, FlowMatching(), cfg, step=5)
    halves = [make_inputs(_item(x1[i:i + 2], [i, i + 1]), NULL, FlowMatching(), cfg, step=5) for i in (0, 2)]
    assert torch.equal(whole[2], torch.cat([h[2] for h in halves]))  # t
    assert torch.equal(whole[1], torch.cat([h[1] for h in halves]))  # x0
    assert torch.equal(whole[3]["cap_mask"], torch.cat([h[3]["cap_mask"] for h in halves]))
    assert whole[2].shape == (B,) and whole[1].shape == x1.shape and whole[0] is x1


def test_timesteps_and_noise_change_with_step_seed_and_position():
    x1 = torch.zeros(B, 3, 1, 2, 2)
    _, x0, t, _ = make_inputs(_item(x1, [0, 1, 2, 3]), NULL, FlowMatching(), TrainConfig(seed=3), step=5)
    assert len(set(t.tolist())) == B and not torch.equal(x0[0], x0[1])  # positions differ
    for cfg, step in [(TrainConfig(seed=3), 6), (TrainConfig(seed=4), 5)]:
        _, x0b, tb, _ = make_inputs(_item(x1, [0, 1, 2, 3]), NULL, FlowMatching(), cfg, step)
        assert not torch.equal(t, tb) and not torch.equal(x0, x0b)
    assert ((t >= 0) & (t <= 1)).all() and abs(x0.std().item() - 1) < 0.5  # U(0, 1) times, N(0, I) noise


def test_variable_size_samples_get_noise_of_their_own_shape_and_frame_cond_passes_through():
    xs = [torch.zeros(3, 1, 2, 2), torch.zeros(3, 2, 2, 4)]
    frames = torch.randn(2, 5)
    x1, x0, t, kw = make_inputs(_item(xs, [7, 8], frames), NULL, FlowMatching(), TrainConfig(), step=0)
    assert isinstance(x0, list) and [v.shape for v in x0] == [v.shape for v in xs] and t.shape == (2,)
    assert kw["frame_cond"] is frames and set(kw) == {"cap_feats", "cap_mask", "frame_cond"}


def test_dropped_captions_become_the_null_caption_and_kept_ones_stay():
    x1 = torch.zeros(64, 3, 1, 2, 2)
    item = _item(x1, list(range(64)))
    _, _, _, kw = make_inputs(item, NULL, FlowMatching(), TrainConfig(caption_dropout=0.5, seed=0), step=0)
    null = (kw["cap_feats"] == 0).all(-1).all(-1)
    assert 0 < null.sum() < 64
    assert kw["cap_mask"][null].eq(NULL.cap_mask).all() and kw["cap_mask"][~null].all()
    assert kw["cap_feats"][~null].eq(1).all() and item["batch"]["cap_mask"].all()  # the loader's batch untouched


def test_caption_dropout_does_not_read_the_global_rng():
    """Which captions drop depends on (seed, step, position) only: a resumed run or another rank,
    whose global RNG is elsewhere, drops the same ones."""
    item = _item(torch.zeros(32, 3, 1, 2, 2), list(range(32)))
    cfg = TrainConfig(caption_dropout=0.5, seed=0)
    masks = []
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)
        masks.append(make_inputs(item, NULL, FlowMatching(), cfg, step=0)[3]["cap_mask"])
    assert torch.equal(masks[0], masks[1]) and 0 < int((~masks[0].all(-1)).sum()) < 32
