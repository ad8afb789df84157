"""Flag-DiT behaviour that a mutation run over modelzoo/flag_dit.py showed no test pinned
(bench/mutation/REPORT.md): caption masks, regions at patch centres, the RoPE table cache,
proportional attention in a padded batch, label dropout and the timestep embedding."""

from __future__ import annotations

import math

import pytest
import torch

from modelzoo import Extrapolation
from modelzoo.flag_dit import LabelEmbedder, TimestepEmbedder

from .helpers import caption, tiny


def test_masked_caption_tokens_are_invisible():
    model = tiny(cap_dim=16)  # random gates: the text branch is on
    feats, mask = caption(2)  # sample 1 masks its last three tokens
    x = torch.randn(2, 4, 1, 8, 8)
    other = feats.clone()
    other[~mask] = torch.randn(int((~mask).sum()), 16)
    with torch.no_grad():
        a = model(x, 0.5, cap_feats=feats, cap_mask=mask)
        b = model(x, 0.5, cap_feats=other, cap_mask=mask)
        c = model(x, 0.5, cap_feats=other, cap_mask=torch.ones_like(mask))
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert (c[1] - b[1]).abs().max() > 1e-3  # ... and they do count once visible


def test_a_caption_with_no_visible_token_does_not_reach_the_output():
    model = tiny(cap_dim=16)
    feats, mask = caption(2)
    mask[1] = False
    x = torch.randn(2, 4, 1, 8, 8)
    with torch.no_grad():
        a = model(x, 0.5, cap_feats=feats, cap_mask=mask)
        b = model(x, 0.5, cap_feats=torch.randn_like(feats), cap_mask=mask)
    torch.testing.assert_close(a[1], b[1], rtol=0, atol=1e-6)
    assert (a[0] - b[0]).abs().max() > 1e-3  # sample 0 sees its caption


def test_proportional_attention_in_a_padded_batch_matches_each_sample_alone():
    model = tiny(cap_dim=16)
    n_train = model.seq_len((1, 8, 8))
    ext = Extrapolation(train_seq_len=n_train, proportional_attn=True)
    g = torch.Generator().manual_seed(3)
    x = [torch.randn(4, 1, 8, 8, generator=g), torch.randn(4, 1, 16, 12, generator=g)]  # two lengths, two scales
    feats, mask = caption(2)
    t = torch.tensor([0.3, 0.6])
    with torch.no_grad():
        batched = model(x, t, cap_feats=feats, cap_mask=mask, extrapolation=ext)
        plain = model(x, t, cap_feats=feats, cap_mask=mask)
        for i in range(2):
            alone = model([x[i]], t[i:i + 1], cap_feats=feats[i:i + 1], cap_mask=mask[i:i + 1], extrapolation=ext)[0]
            torch.testing.assert_close(batched[i], alone, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(batched[0], plain[0], rtol=1e-4, atol=1e-4)  # at the training length: as trained
    assert (batched[1] - plain[1]).abs().max() > 1e-3  # longer: a sharper softmax


def test_extrapolation_without_a_length_uses_the_configured_training_length():
    model = tiny(cap_dim=16, train_seq_len=tiny(randomize=False).seq_len((1, 8, 8)))
    n_train = model.config.train_seq_len
    feats, mask = caption(2)
    big = torch.randn(2, 4, 1, 16, 16)
    with torch.no_grad():
        implicit = model(big, 0.5, cap_feats=feats, cap_mask=mask, extrapolation=Extrapolation(rope="ntk"))
        explicit = model(big, 0.5, cap_feats=feats, cap_mask=mask,
                         extrapolation=Extrapolation(train_seq_len=n_train, rope="ntk"))
        plain = model(big, 0.5, cap_feats=feats, cap_mask=mask)
    torch.testing.assert_close(implicit, explicit, rtol=0, atol=1e-6)
    assert (implicit - plain).abs().max() > 1e-3


def test_rope_tables_are_not_shared_between_grids_of_the_same_length():
    """Axial RoPE: 2 x 5 and 3 x 3 patches both make 12 tokens (with [nextline]s), at other positions."""
    model = tiny(cap_dim=16, rope="axial")
    feats, mask = caption(1)
    wide, square = torch.randn(1, 4, 1, 4, 10), torch.randn(1, 4, 1, 6, 6)
    assert model.seq_len(wide.shape[1:]) == model.seq_len(square.shape[1:])
    with torch.no_grad():
        fresh = model(square, 0.5, cap_feats=feats, cap_mask=mask)
        model._rope_cache.clear()
        model(wide, 0.5, cap_feats=feats, cap_mask=mask)
        after_wide = model(square, 0.5, cap_feats=feats, cap_mask=mask)
    torch.testing.assert_close(after_wide, fresh, rtol=0, atol=0)


def test_style_batch_after_a_plain_batch_of_the_same_size_gets_its_own_tables():
    model = tiny(cap_dim=16, n_layers=1)
    feats, mask = caption(2)
    x = torch.randn(2, 4, 1, 8, 8)
    ref = torch.tensor([0, 0])
    with torch.no_grad():
        fresh = model(x, 0.5, cap_feats=feats, cap_mask=mask, style_ref=ref)
        model._rope_cache.clear()
        model(x, 0.5, cap_feats=feats, cap_mask=mask)
        after_plain = model(x, 0.5, cap_feats=feats, cap_mask=mask, style_ref=ref)
        plain_after_style = model(x, 0.5, cap_feats=feats, cap_mask=mask)
        model._rope_cache.clear()
        plain = model(x, 0.5, cap_feats=feats, cap_mask=mask)
    torch.testing.assert_close(after_plain, fresh, rtol=0, atol=0)
    torch.testing.assert_close(plain_after_style, plain, rtol=0, atol=0)


def _membership(model, x, regions, n_regions):
    _, layout = model.patchify(x)
    n = max(layout.lengths)
    return model._token_region_membership(regions, layout, n, n_regions, torch.device("cpu"))


def test_regions_are_read_at_patch_centres_and_separators_are_in_every_region():
    model = tiny(randomize=False, cap_dim=16, patch_size=2)
    ids = torch.zeros(6, 6, dtype=torch.long)
    ids[:, 3:] = 1  # the boundary splits patch column 1 (pixels 2, 3): its centre, pixel 3, is in region 1
    ids[4:, :] = 2  # the last patch row (pixels 4, 5) is region 2
    expected = [0, 1, 1, None] * 2 + [2, 2, 2, None]  # 3 rows of 3 patches + [nextline]
    transposed = [0, 0, 2, None] + [1, 1, 2, None] * 2  # the same map transposed: rows split at pixel 3
    for regions, want_ids in ((ids, expected), (ids.T.contiguous(), transposed)):
        member = _membership(model, torch.zeros(1, 4, 1, 6, 6), regions, 3)
        assert member.shape == (1, 12, 3)
        for token, region in enumerate(want_ids):
            want = [True] * 3 if region is None else [r == region for r in range(3)]
            assert member[0, token].tolist() == want, token


def test_regions_of_an_odd_size_read_the_last_pixel_of_a_partial_patch():
    model = tiny(randomize=False, cap_dim=16, patch_size=2)
    ids = torch.zeros(5, 5, dtype=torch.long)
    ids[:, 4] = 1  # patch column 2 holds pixel 4 only (pixel 5 is padding)
    member = _membership(model, torch.zeros(1, 4, 1, 5, 5), ids, 2)[0]
    assert [int(member[t].long().argmax()) for t in (0, 1, 2)] == [0, 0, 1]
    member = _membership(model, torch.zeros(1, 4, 1, 5, 5), ids.T.contiguous(), 2)[0]  # rows: the same
    assert [int(member[t].long().argmax()) for t in (0, 4, 8)] == [0, 0, 1]


def test_one_stack_of_video_masks_serves_the_whole_batch():
    model = tiny(randomize=False, cap_dim=16, patch_size=2, rope="axial", axial_frames=True)
    masks = torch.zeros(2, 2, 2, 4, dtype=torch.bool)  # (R, T, H, W)
    masks[0, 0, :, :2] = masks[1, 0, :, 2:] = True  # frame 0: region 0 left, region 1 right
    masks[0, 1] = True  # frame 1: region 0 everywhere
    member = _membership(model, torch.zeros(2, 4, 2, 2, 4), masks, 2)
    assert member.shape == (2, 8, 2)
    for b in range(2):  # both samples: patch, patch, [nextline], [nextframe] per frame
        assert member[b, :, 0].tolist() == [True, False, True, True, True, True, True, True]
        assert member[b, :, 1].tolist() == [False, True, True, True, False, False, True, True]


def test_video_regions_follow_each_frame_and_per_sample_maps_each_sample():
    model = tiny(randomize=False, cap_dim=16, patch_size=2, rope="axial", axial_frames=True)
    ids = torch.zeros(2, 2, 4, dtype=torch.long)  # (T, H, W): one patch row of two patches per frame
    ids[0, :, 2:] = 1  # frame 0: region 1 on the right
    ids[1, :, :2] = 1  # frame 1: region 1 on the left
    member = _membership(model, torch.zeros(1, 4, 2, 2, 4), ids, 2)[0]
    # frame 0: patch, patch, [nextline], [nextframe]; then frame 1 the same
    assert [int(member[t, 1]) for t in range(8)] == [0, 1, 1, 1, 1, 0, 1, 1]
    assert [int(member[t, 0]) for t in range(8)] == [1, 0, 1, 1, 0, 1, 1, 1]
    left, right = torch.zeros(2, 4, dtype=torch.long), torch.ones(2, 4, dtype=torch.long)
    per_sample = _membership(model, [torch.zeros(4, 1, 2, 4), torch.zeros(4, 1, 2, 4)], [left, right], 2)
    assert per_sample[0, :2, 0].all() and not per_sample[0, :2, 1].any()
    assert per_sample[1, :2, 1].all() and not per_sample[1, :2, 0].any()


def test_label_dropout_replaces_the_configured_share_with_the_null_class_in_training_only():
    torch.manual_seed(0)
    emb = LabelEmbedder(num_classes=10, hidden_size=4, dropout_prob=0.3)
    labels = torch.arange(4000) % 10
    null = emb.embedding_table.weight[10]
    with torch.no_grad():
        emb.train()
        rate = (emb(labels) == null).all(-1).float().mean().item()
        emb.eval()
        assert not (emb(labels) == null).all(-1).any()
        emb.train()
        emb.dropout_prob = 0.0
        assert not (emb(labels) == null).all(-1).any()
    assert abs(rate - 0.3) < 0.03


def test_timestep_embedding_is_cos_then_sin_of_scaled_time_over_geometric_frequencies():
    t = torch.tensor([0.0, 0.25, 3.0])
    for dim in (6, 7):  # an odd width gets one zero column
        emb = TimestepEmbedder.timestep_embedding(t, dim, max_period=100.0)
        half = dim // 2
        freqs = torch.tensor([100.0 ** (-k / half) for k in range(half)])
        expected = torch.cat([torch.cos(t[:, None] * freqs), torch.sin(t[:, None] * freqs)], -1)
        assert emb.shape == (3, dim)
        torch.testing.assert_close(emb[:, : 2 * half], expected)
        if dim % 2:
            assert (emb[:, -1] == 0).all()
    default = TimestepEmbedder.timestep_embedding(t, 4)  # max_period 10000: frequencies 1, 1/100
    torch.testing.assert_close(default[:, 1], torch.cos(t / 100))
    # at large times (the model scales t in [0, 1] by 1000) a period 1e-4 off moves the phase by ~1e-3
    late = torch.tensor([3000.0])
    torch.testing.assert_close(TimestepEmbedder.timestep_embedding(late, 4)[:, 1], torch.cos(late / 100), rtol=0, atol=1e-4)
    embedder = TimestepEmbedder(8, frequency_embedding_size=6, time_scale=1000.0)
    with torch.no_grad():
        torch.testing.assert_close(embedder(torch.tensor([0.002])),
                                   embedder.mlp(TimestepEmbedder.timestep_embedding(torch.tensor([2.0]), 6)))
    assert math.isclose(TimestepEmbedder(8).time_scale, 1000.0)


def test_low_precision_cpu_attention_defaults_to_the_inverse_square_root_scale():
    import torch.nn.functional as F

    from modelzoo.flag_dit import attention

    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 4, 10, 16, generator=g) for _ in range(3))
    out = attention(q.bfloat16(), k.bfloat16(), v.bfloat16())  # no scale: 1 / sqrt(16)
    torch.testing.assert_close(out.float(), F.scaled_dot_product_attention(q, k, v), rtol=0.03, atol=0.03)


def test_frame_cond_reaches_single_frame_samples_and_models_without_separators():
    for sep in (True, False):
        model = tiny(cap_dim=16, frame_cond_dim=3, sep_tokens=sep, rope="axial", axial_frames=True)
        x = [torch.randn(4, 1, 4, 6), torch.randn(4, 2, 4, 8)]  # the one-frame sample is the shorter
        cond = [torch.randn(1, 3), torch.randn(2, 3)]
        feats, mask = caption(2)
        seen = []
        hook = model.layers[0].register_forward_pre_hook(lambda mod, args: seen.append(args[0]))
        with torch.no_grad():
            model(x, 0.5, cap_feats=feats, cap_mask=mask, frame_cond=cond)
            model(x, 0.5, cap_feats=feats, cap_mask=mask, frame_cond=[torch.zeros(1, 3), torch.zeros(2, 3)])
        hook.remove()
        added = seen[0] - seen[1]
        W = model.frame_embedder.weight.detach()
        for b, (c, (T, h, w)) in enumerate(zip(cond, [(1, 2, 3), (2, 2, 4)])):
            per_frame = h * (w + sep) + (sep if T > 1 else 0)
            for f in range(T):
                rows = added[b, f * per_frame:(f + 1) * per_frame]
                torch.testing.assert_close(rows, (W @ c[f]).expand_as(rows), rtol=1e-5, atol=1e-5)
            assert (added[b, T * per_frame:] == 0).all(), (sep, b)  # [PAD] gets nothing


def test_frame_cond_in_another_dtype_is_cast_to_the_model_dtype():
    model = tiny(cap_dim=16, frame_cond_dim=3, rope="axial", axial_frames=True)
    feats, mask = caption(2)
    x, cams = torch.randn(2, 4, 2, 4, 4), torch.randn(2, 2, 3, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(model(x, 0.5, cap_feats=feats, cap_mask=mask, frame_cond=cams),
                                   model(x, 0.5, cap_feats=feats, cap_mask=mask, frame_cond=cams.float()))


def test_labels_past_the_null_class_are_rejected():
    emb = LabelEmbedder(num_classes=10, hidden_size=4, dropout_prob=0.0)
    emb(torch.tensor([0, 10]))  # the ten classes and the null label
    with pytest.raises(IndexError):
        emb(torch.tensor([11]))


def test_cpu_attention_takes_sdpa_in_fp32_and_two_matmuls_in_bf16(monkeypatch):
    """The routing the docstring gives: SDPA's bf16 CPU kernel costs ~3x the two matmuls."""
    import torch.nn.functional as F

    import modelzoo.flag_dit as flag_dit

    calls = []
    sdpa = F.scaled_dot_product_attention
    monkeypatch.setattr(flag_dit.F, "scaled_dot_product_attention", lambda *a, **k: calls.append(1) or sdpa(*a, **k))
    q = torch.randn(1, 2, 3, 8)
    flag_dit.attention(q, q, q)
    assert calls == [1]
    flag_dit.attention(q.bfloat16(), q.bfloat16(), q.bfloat16())
    assert calls == [1]


def test_grouped_query_attention_shares_each_key_head_between_its_query_heads():
    import torch.nn.functional as F

    from modelzoo.flag_dit import attention

    g = torch.Generator().manual_seed(2)
    q = torch.randn(1, 4, 2, 8, generator=g)  # 4 query heads, 2 queries
    k, v = torch.randn(1, 2, 4, 8, generator=g), torch.randn(1, 2, 4, 8, generator=g)  # 2 key heads, 4 keys
    expected = F.scaled_dot_product_attention(q, k.repeat_interleave(2, 1), v.repeat_interleave(2, 1))
    torch.testing.assert_close(attention(q, k, v), expected)


@pytest.mark.parametrize("qk_norm", ["layernorm", "rmsnorm"])  # per-head RMSNorm returns fp32 under autocast
def test_under_bf16_autocast_attention_and_its_output_run_in_bf16(monkeypatch, qk_norm):
    """Norms and RoPE in fp32, the attention matmuls in bf16 (the reason for the CPU path)."""
    import modelzoo.flag_dit as flag_dit

    model = tiny(cap_dim=16, qk_norm=qk_norm)
    dtypes = []
    real = flag_dit.attention
    monkeypatch.setattr(flag_dit, "attention", lambda q, k, v, *a: dtypes.append((q.dtype, k.dtype)) or real(q, k, v, *a))
    seen = []
    model.layers[0].attention.wo.register_forward_pre_hook(lambda mod, args: seen.append(args[0].dtype))
    feats, mask = caption(2)
    x = [torch.randn(4, 1, 8, 8), torch.randn(4, 1, 16, 12)]
    ext = Extrapolation(train_seq_len=model.seq_len((1, 8, 8)), proportional_attn=True)  # per-sample q scales
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        model(x, 0.5, cap_feats=feats, cap_mask=mask, extrapolation=ext)
    assert set(dtypes) == {(torch.bfloat16, torch.bfloat16)} and len(dtypes) == 4  # self and cross, 2 blocks
    assert seen == [torch.bfloat16]


def test_masked_tokens_stay_invisible_beside_a_caption_with_none_visible():
    """A batch with a partly masked, an empty and a full caption, in fp32 and under bf16 autocast."""
    model = tiny(cap_dim=16)
    feats, mask = caption(3)
    mask[0, 4:] = False
    mask[1] = False
    mask[2] = True
    x = torch.randn(3, 4, 1, 8, 8)
    hidden = feats.clone()
    hidden[~mask] = torch.randn(int((~mask).sum()), 16)
    visible = feats.clone()
    visible[0, :4] = torch.randn(4, 16)
    for autocast in (False, True):
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            a = model(x, 0.5, cap_feats=feats, cap_mask=mask).float()
            b = model(x, 0.5, cap_feats=hidden, cap_mask=mask).float()
            c = model(x, 0.5, cap_feats=visible, cap_mask=mask).float()
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
        assert (c[0] - a[0]).abs().max() > 1e-3  # the visible tokens do count


def _one_block_regions(model, feats, regions, image_regions, x):
    with torch.no_grad():
        return model(x, 0.5, cap_feats=feats, cap_mask=torch.ones(feats.shape[:2], dtype=torch.bool),
                     cap_pool=torch.zeros(1, 16), cap_regions=regions, image_regions=image_regions)


def test_patches_outside_every_region_see_no_caption_and_one_region_masks_work():
    model = tiny(cap_dim=16, n_layers=1, patch_size=2)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(1, 4, 1, 8, 8, generator=g)
    feats, other = torch.randn(1, 4, 16, generator=g), torch.randn(1, 4, 16, generator=g)
    regions = torch.zeros(1, 4, dtype=torch.long)  # every token belongs to region 0: no global caption
    ids = torch.zeros(8, 8, dtype=torch.long)
    ids[:, 4:] = 1  # the right half is in no region named by a token
    left_only = torch.zeros(1, 8, 8, dtype=torch.bool)
    left_only[0, :, :4] = True  # the same as one bool mask
    for image_regions in (ids, left_only):
        a = _one_block_regions(model, feats, regions, image_regions, x)
        b = _one_block_regions(model, other, regions, image_regions, x)
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a[..., 4:], b[..., 4:], rtol=0, atol=1e-6)  # right half: no caption at all
        assert (a[..., :4] - b[..., :4]).abs().max() > 1e-3


def _attention_context(model, x, t, ext):
    _, layout = model.patchify(x)
    n = max(layout.lengths)
    return model._context(layout, n, torch.as_tensor(t).reshape(-1), ext, None, None, None, None)


def test_the_models_time_aware_tables_follow_t():
    model = tiny(cap_dim=16)
    n_train = model.seq_len((1, 8, 8))
    big = torch.randn(1, 4, 1, 16, 16)
    early = _attention_context(model, big, 0.1, Extrapolation(n_train, "time_aware")).freqs_cis
    late = _attention_context(model, big, 0.9, Extrapolation(n_train, "time_aware")).freqs_cis
    torch.testing.assert_close(early, _attention_context(model, big, 0.1, Extrapolation(n_train, "interpolation")).freqs_cis)
    torch.testing.assert_close(late, _attention_context(model, big, 0.9, Extrapolation(n_train, "ntk")).freqs_cis)


def test_the_models_axial_tables_scale_each_axis_by_its_own_ratio():
    """A 2x wider image with train_size: columns squeezed by 2, rows as trained."""
    model = tiny(cap_dim=16, rope="axial")
    wide = torch.randn(1, 4, 1, 8, 16)
    plain = _attention_context(model, wide, 0.5, None).freqs_cis
    scaled = _attention_context(model, wide, 0.5, Extrapolation(rope="interpolation", train_size=(8, 8))).freqs_cis
    half = model.rope_dims[1] // 2  # complex slots of the row part (the frame part is empty for images)
    token = 3 * 9 + 3  # row 3, column 3 (9 tokens a row with [nextline]): angles 3 x frequency, below pi
    torch.testing.assert_close(scaled[0, token, 0, :half], plain[0, token, 0, :half])
    torch.testing.assert_close(scaled[0, token, 0, half:].angle(), (plain[0, token, 0, half:].angle() / 2))


def test_a_one_channel_caption_still_gets_cross_attention():
    model = tiny(cap_dim=1)
    assert model.layers[0].attention.cross
    g = torch.Generator().manual_seed(0)
    feats = torch.tensor([[[1.0], [-2.0], [0.5]]])
    other = -feats  # one channel: the caption norm keeps only each token's sign
    x = torch.randn(1, 4, 1, 8, 8, generator=g)
    with torch.no_grad():
        a = model(x, 0.5, cap_feats=feats, cap_pool=torch.zeros(1, 1))
        b = model(x, 0.5, cap_feats=other, cap_pool=torch.zeros(1, 1))
    assert (a - b).abs().max() > 1e-3


def test_a_pure_bf16_model_runs_in_bf16():
    model = tiny(cap_dim=16).to(torch.bfloat16)
    feats, mask = caption(2)
    with torch.no_grad():
        v = model(torch.randn(2, 4, 1, 8, 8), torch.tensor([0.2, 0.7]), cap_feats=feats, cap_mask=mask)
    assert v.dtype == torch.bfloat16 and torch.isfinite(v.float()).all()
