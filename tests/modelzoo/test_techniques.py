"""The paper's inference techniques, each shown doing its job."""

from __future__ import annotations

import pytest
import torch

from modelzoo import Extrapolation, compose_captions, sample
from modelzoo.transport import normalize_per_channel

from .helpers import caption, tiny
from .test_transport import gaussian_velocity


def test_resolution_extrapolation_options_run_and_are_identity_at_training_size():
    model = tiny(cap_dim=16)
    feats, mask = caption(2)
    cond = dict(cap_feats=feats, cap_mask=mask)
    n_train = model.seq_len((1, 8, 8))
    small = torch.randn(2, 4, 1, 8, 8)
    ext = Extrapolation(train_seq_len=n_train, rope="time_aware", proportional_attn=True)
    torch.testing.assert_close(sample(model, small, cond, steps=3, extrapolation=ext),
                               sample(model, small, cond, steps=3), rtol=1e-5, atol=1e-5)
    big = torch.randn(2, 4, 1, 24, 16)  # 6x the tokens, another aspect ratio
    outs = {mode: sample(model, big, cond, steps=3, shift=4.0,
                         extrapolation=dict(train_seq_len=n_train, rope=mode, proportional_attn=True))
            for mode in ("none", "interpolation", "ntk", "time_aware")}
    for mode, out in outs.items():
        assert out.shape == big.shape and torch.isfinite(out).all()
        if mode != "none":
            assert (out - outs["none"]).abs().max() > 1e-4


@pytest.mark.parametrize("rope", ["1d", "axial"])
def test_style_sharing_gives_the_reference_positions_of_its_own(rope):
    """Shared before RoPE with positions after the target's: one block's output for the target
    equals that of one longer sequence, the target with the reference stacked below it."""
    model = tiny(cap_dim=16, n_layers=1, rope=rope)
    feats, mask = caption(2)
    feats, mask = feats[[0, 0]], mask[[0, 0]]  # one caption: adaLN and cross-attention alike
    g = torch.Generator().manual_seed(2)
    ref, target = torch.randn(4, 1, 6, 8, generator=g), torch.randn(4, 1, 6, 8, generator=g)
    t = torch.tensor([0.4, 0.4])
    with torch.no_grad():
        shared = model(torch.stack([ref, target]), t, cap_feats=feats, cap_mask=mask,
                       style_ref=torch.tensor([0, 0]))
        longer = model(torch.cat([target, ref], dim=-2)[None], t[:1], cap_feats=feats[:1], cap_mask=mask[:1])
    torch.testing.assert_close(shared[1], longer[0, :, :, :6], rtol=1e-4, atol=1e-4)


def test_style_consistent_batch_shares_the_reference():
    model = tiny(cap_dim=16, n_layers=1)
    feats, mask = caption(3)
    cond, null = dict(cap_feats=feats, cap_mask=mask), dict(cap_feats=feats[:, :1] * 0, cap_mask=mask[:, :1])
    g = torch.Generator().manual_seed(3)
    noise = torch.randn(3, 4, 1, 8, 8, generator=g)
    other_ref = noise.clone()
    other_ref[0] = torch.randn(4, 1, 8, 8, generator=g)
    plain = sample(model, noise, cond, null, cfg_scale=3.0, steps=4)
    shared = sample(model, noise, cond, null, cfg_scale=3.0, steps=4, style_consistent=True)
    shared_other = sample(model, other_ref, cond, null, cfg_scale=3.0, steps=4, style_consistent=True)
    # the others now depend on the reference (they did not before)
    assert (shared[1:] - plain[1:]).abs().max() > 1e-3
    assert (shared_other[1:] - shared[1:]).abs().max() > 1e-3
    # an item identical to its reference stays identical to it: both see [its keys; reference keys]
    twins = torch.stack([noise[0], noise[0], noise[2]])
    out = sample(model, twins, cond | dict(cap_feats=feats[[0, 0, 2]], cap_mask=mask[[0, 0, 2]]), steps=3,
                 style_consistent=True)
    torch.testing.assert_close(out[1], out[0], rtol=1e-5, atol=1e-5)


def test_compositional_generation_keeps_each_caption_in_its_region():
    """One block: a patch's output sees captions only through its own cross-attention row."""
    model = tiny(cap_dim=16, n_layers=1, patch_size=2)
    g = torch.Generator().manual_seed(5)
    left, right, full = (torch.randn(1, 4, 16, generator=g) for _ in range(3))
    ones = torch.ones(1, 4, dtype=torch.bool)
    regions = torch.zeros(8, 8, dtype=torch.long)
    regions[:, 4:] = 1  # region 0 = left half, 1 = right half
    x = torch.randn(1, 4, 1, 8, 8, generator=g)

    def velocity(left_feats, right_feats):
        comp = compose_captions([(left_feats, ones), (right_feats, ones)], regions, (full, ones))
        with torch.no_grad():
            return model(x, 0.5, **comp.as_kwargs())

    base = velocity(left, right)
    changed_right = velocity(left, torch.randn(1, 4, 16, generator=g))
    torch.testing.assert_close(changed_right[..., :4], base[..., :4], rtol=0, atol=1e-6)  # left untouched
    assert (changed_right[..., 4:] - base[..., 4:]).abs().max() > 1e-3
    changed_left = velocity(torch.randn(1, 4, 16, generator=g), right)
    torch.testing.assert_close(changed_left[..., 4:], base[..., 4:], rtol=0, atol=1e-6)
    assert (changed_left[..., :4] - base[..., :4]).abs().max() > 1e-3
    # the pooled (adaLN) vector is the full prompt's
    comp = compose_captions([(left, ones), (right, ones)], regions, (full, ones))
    torch.testing.assert_close(comp.cap_pool, full.mean(1))
    # and sample() runs it, with guidance against a null caption
    out = sample(model, x, dict(), dict(cap_feats=torch.zeros(1, 2, 16), cap_mask=torch.ones(1, 2, dtype=torch.bool)),
                 cfg_scale=4.0, steps=3, composition=comp)
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_overlapping_regions_each_see_their_own_caption():
    """Two boxes sharing the middle columns: the overlap sees both captions, the rest one each."""
    model = tiny(cap_dim=16, n_layers=1, patch_size=2)
    g = torch.Generator().manual_seed(6)
    left, right, full = (torch.randn(1, 4, 16, generator=g) for _ in range(3))
    ones = torch.ones(1, 4, dtype=torch.bool)
    boxes = torch.zeros(2, 8, 8, dtype=torch.bool)
    boxes[0, :, :6] = True  # patch columns 0, 1, 2
    boxes[1, :, 2:] = True  # patch columns 1, 2, 3: columns 1 and 2 are in both
    x = torch.randn(1, 4, 1, 8, 8, generator=g)

    def velocity(left_feats, right_feats):
        comp = compose_captions([(left_feats, ones), (right_feats, ones)], boxes, (full, ones))
        with torch.no_grad():
            return model(x, 0.5, **comp.as_kwargs())

    def changed(a, b):  # per patch column: did the output move?
        return [bool((a[..., 2 * c:2 * c + 2] - b[..., 2 * c:2 * c + 2]).abs().max() > 1e-4) for c in range(4)]

    base = velocity(left, right)
    assert changed(velocity(left, torch.randn(1, 4, 16, generator=g)), base) == [False, True, True, True]
    assert changed(velocity(torch.randn(1, 4, 16, generator=g), right), base) == [True, True, True, False]
    # an id map is the special case of disjoint masks
    ids = torch.zeros(8, 8, dtype=torch.long)
    ids[:, 4:] = 1
    masks = torch.stack([ids == 0, ids == 1])
    comp_ids = compose_captions([(left, ones), (right, ones)], ids, (full, ones))
    comp_masks = compose_captions([(left, ones), (right, ones)], masks, (full, ones))
    with torch.no_grad():
        torch.testing.assert_close(model(x, 0.5, **comp_ids.as_kwargs()), model(x, 0.5, **comp_masks.as_kwargs()))
    out = sample(model, x, dict(), dict(cap_feats=torch.zeros(1, 2, 16), cap_mask=torch.ones(1, 2, dtype=torch.bool)),
                 cfg_scale=4.0, steps=2, composition=compose_captions([(left, ones), (right, ones)], boxes, (full, ones)))
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_editing_from_lambda():
    g = torch.Generator().manual_seed(0)
    target = lambda x, t: gaussian_velocity(x, t)  # noqa: E731
    noise = torch.randn(4000, 2, 1, 1, 1, generator=g)
    plain = sample(target, noise, solver="rk4", steps=10)
    # lambda = 0 is ordinary sampling
    init = sample(target, torch.randn(4000, 2, 1, 1, 1, generator=g), solver="rk4", steps=10)
    torch.testing.assert_close(sample(target, noise, solver="rk4", steps=10, init=init, t_start=0.0), plain)
    corr = []
    for lam in (0.2, 0.5, 0.9):
        out = sample(target, noise, solver="rk4", steps=10, shift=2.0, init=init, t_start=lam)
        flat = out.reshape(-1, 2)
        # an edit of a target sample is still a target sample ...
        torch.testing.assert_close(flat.mean(0), torch.tensor([1.5, -2.0]), atol=0.08, rtol=0)
        # ... and keeps more of the input the later it starts
        corr.append(torch.corrcoef(torch.stack([flat[:, 0], init.reshape(-1, 2)[:, 0]]))[0, 1])
    assert corr[0] < corr[1] < corr[2] and corr[2] > 0.9


def test_style_edit_normalisation_removes_the_inputs_channel_statistics():
    model = tiny(cap_dim=16)
    feats, mask = caption(2)
    g = torch.Generator().manual_seed(1)
    init, noise = torch.randn(2, 4, 1, 8, 8, generator=g), torch.randn(2, 4, 1, 8, 8, generator=g)
    recoloured = init * torch.tensor([3.0, 0.5, 2.0, 1.0]).view(1, 4, 1, 1, 1) + torch.tensor([5.0, -1, 0, 2]).view(1, 4, 1, 1, 1)
    kw = dict(cond=dict(cap_feats=feats, cap_mask=mask), steps=3, t_start=0.4)
    a = sample(model, noise, init=init, normalize_init=True, **kw)
    b = sample(model, noise, init=recoloured, normalize_init=True, **kw)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)  # per-channel mean/std of the input no longer matter
    c = sample(model, noise, init=recoloured, **kw)
    assert (c - b).abs().max() > 1e-2
    n = normalize_per_channel(recoloured)
    torch.testing.assert_close(n.mean((2, 3, 4)), torch.zeros(2, 4), atol=1e-5, rtol=0)
