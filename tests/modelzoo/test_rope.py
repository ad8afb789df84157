"""RoPE: relative positions, and each extrapolation knob changes what it should and only that."""

from __future__ import annotations

import math

import pytest
import torch

from modelzoo import Extrapolation
from modelzoo.rope import NTKFormula, RopeScaling, apply_rope, attention_scale, inv_freq, rope_tables

from .helpers import caption, tiny

D, THETA = 32, 10000.0


def _logits(positions: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """q . k for one fixed q and k placed at every position: (N, N)."""
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(D, generator=g), torch.randn(D, generator=g)
    freqs = rope_tables(positions[None], dims, THETA)
    n = positions.shape[0]
    rq = apply_rope(q.expand(1, n, 1, D), freqs)[0, :, 0]
    rk = apply_rope(k.expand(1, n, 1, D), freqs)[0, :, 0]
    return rq @ rk.T


def test_1d_logits_depend_only_on_relative_position():
    logits = _logits(torch.arange(40.0)[:, None], (D,))
    for offset in (-7, 0, 3, 21):
        diagonal = torch.diagonal(logits, offset)
        torch.testing.assert_close(diagonal, diagonal[:1].expand_as(diagonal), rtol=1e-4, atol=1e-4)
    assert (logits[0, 1] - logits[0, 5]).abs() > 1e-3  # ... and do depend on it


def test_axial_logits_depend_only_on_per_axis_offsets():
    f, r, c = torch.meshgrid(torch.arange(2.0), torch.arange(5.0), torch.arange(6.0), indexing="ij")
    pos = torch.stack([f, r, c], -1).reshape(-1, 3)
    logits = _logits(pos, (8, 12, 12))
    delta = pos[:, None, :] - pos[None, :, :]  # (N, N, 3)
    for d in ([0, 1, 2], [1, -2, 0], [0, 0, -3]):
        same = (delta == torch.tensor(d, dtype=torch.float32)).all(-1)
        vals = logits[same]
        torch.testing.assert_close(vals, vals[:1].expand_as(vals), rtol=1e-4, atol=1e-4)


def test_scaling_formulas():
    base = inv_freq(D, THETA)
    s = 4.0
    interp = inv_freq(D, THETA, RopeScaling.INTERPOLATION, s)[0]
    ntk = inv_freq(D, THETA, RopeScaling.NTK, s)[0]
    ratio = inv_freq(D, THETA, RopeScaling.NTK, s, token_ratio=16.0, ntk_formula=NTKFormula.TOKEN_RATIO)[0]
    torch.testing.assert_close(interp, base / s)
    # standard NTK: base' = base * s^(d / (d - 2)): top frequency kept, lowest divided by s
    k = torch.arange(0, D, 2, dtype=torch.float64) / D
    torch.testing.assert_close(ntk, ((THETA * s ** (D / (D - 2))) ** -k).float())
    assert ntk[0] == base[0] and math.isclose(ntk[-1] / base[-1], 1 / s, rel_tol=1e-5)
    torch.testing.assert_close(ratio, ((THETA * 16.0) ** -k).float())  # the reference's variant
    # time-aware: interpolation at the noise end (but the top frequency), exactly NTK at the data end
    early = inv_freq(D, THETA, RopeScaling.TIME_AWARE, s, t=0.0)[0]
    late = inv_freq(D, THETA, RopeScaling.TIME_AWARE, s, t=1.0)[0]
    mid = inv_freq(D, THETA, RopeScaling.TIME_AWARE, s, t=0.5)[0]
    torch.testing.assert_close(late, ntk)
    torch.testing.assert_close(early[1:], interp[1:])
    assert ((mid >= early - 1e-9) & (mid <= late + 1e-9)).all()
    for mode in RopeScaling:  # s = 1 changes nothing
        torch.testing.assert_close(inv_freq(D, THETA, mode, 1.0).reshape(-1), base)


def test_scaled_positions_stay_within_the_trained_angle_range():
    n_train, s = 64, 4.0
    trained_max = (n_train - 1) * inv_freq(D, THETA)  # largest angle seen in training, per frequency
    last = s * (n_train - 1)  # the last position of the s-times longer sequence
    new_max = last * inv_freq(D, THETA, RopeScaling.INTERPOLATION, s)[0]
    assert (new_max <= trained_max * (1 + 1e-6)).all()
    ntk_new = last * inv_freq(D, THETA, RopeScaling.NTK, s)[0]
    assert ntk_new[-1] <= trained_max[-1] * 1.001  # the slowest rotation is interpolated
    assert ntk_new[0] > trained_max[0]  # the fastest is extrapolated (it already wrapped in training)


def test_auto_factor_and_frames_axis():
    pos = torch.zeros(1, 4, 3)
    pos[0, :, 0] = torch.arange(4.0)
    pos[0, :, 1] = torch.arange(4.0)
    ext = Extrapolation(train_seq_len=100, rope="interpolation")
    freqs = rope_tables(pos, (8, 12, 12), THETA, ext, torch.tensor([400]), torch.tensor([0.5]))
    plain = rope_tables(pos, (8, 12, 12), THETA)
    torch.testing.assert_close(freqs[..., :4], plain[..., :4])  # frames: never rescaled
    h_freq = freqs[0, 1, 0, 4:10].angle()  # row 1: angle = freq
    torch.testing.assert_close(h_freq, inv_freq(12, THETA) / 2, rtol=1e-3, atol=1e-4)  # s = sqrt(400/100)
    freqs1 = rope_tables(torch.arange(4.0)[None, :, None], (D,), THETA, ext, torch.tensor([400]), torch.tensor([0.5]))
    angle = freqs1[0, 1, 0, 1].angle()
    torch.testing.assert_close(angle, inv_freq(D, THETA)[1] / 4, rtol=1e-3, atol=1e-5)  # 1-D: s = N / N_train


def test_proportional_attention_scale():
    assert math.isclose(attention_scale(256, 256, 64), 1 / 8)
    assert attention_scale(1024, 256, 64) > 1 / 8  # more tokens: sharper softmax
    assert math.isclose(attention_scale(1024, 256, 64), math.sqrt(math.log(1024) / math.log(256) / 64))


@pytest.mark.parametrize("rope", ["1d", "axial"])
def test_model_knobs_are_identity_at_training_length_and_act_beyond(rope):
    model = tiny(cap_dim=16, rope=rope)
    feats, mask = caption(2)
    small, big = torch.randn(2, 4, 1, 8, 8), torch.randn(2, 4, 1, 16, 16)
    n_train = model.seq_len(small.shape[1:])
    outs = {}
    with torch.no_grad():
        for mode in ("none", "interpolation", "ntk", "time_aware"):
            ext = Extrapolation(train_seq_len=n_train, rope=mode, proportional_attn=True)
            same = model(small, torch.tensor([0.1, 0.9]), cap_feats=feats, cap_mask=mask, extrapolation=ext)
            plain = model(small, torch.tensor([0.1, 0.9]), cap_feats=feats, cap_mask=mask)
            torch.testing.assert_close(same, plain, rtol=1e-5, atol=1e-5)
            outs[mode] = model(big, torch.tensor([0.1, 0.9]), cap_feats=feats, cap_mask=mask,
                               extrapolation=Extrapolation(train_seq_len=n_train, rope=mode))
        prop = model(big, torch.tensor([0.1, 0.9]), cap_feats=feats, cap_mask=mask,
                     extrapolation=Extrapolation(train_seq_len=n_train, proportional_attn=True))
    for mode in ("interpolation", "ntk", "time_aware"):
        assert (outs[mode] - outs["none"]).abs().max() > 1e-3, mode
    assert (prop - outs["none"]).abs().max() > 1e-3
    # time-aware follows t: interpolation-like near noise, NTK-like near data
    with torch.no_grad():
        t = torch.tensor([1.0, 1.0])
        ta = model(big, t, cap_feats=feats, cap_mask=mask, extrapolation=Extrapolation(n_train, "time_aware"))
        ntk = model(big, t, cap_feats=feats, cap_mask=mask, extrapolation=Extrapolation(n_train, "ntk"))
    torch.testing.assert_close(ta, ntk, rtol=1e-4, atol=1e-4)


def test_watershed_switches_from_interpolation_to_ntk():
    """Lumina-Next's time-aware scaling: interpolation before the watershed, NTK from it on."""
    s = 3.0
    interp = inv_freq(D, THETA, RopeScaling.INTERPOLATION, s)[0]
    ntk = inv_freq(D, THETA, RopeScaling.NTK, s)[0]
    for t, expected in ((0.0, interp), (0.29, interp), (0.3, ntk), (0.9, ntk)):
        torch.testing.assert_close(inv_freq(D, THETA, RopeScaling.TIME_AWARE, s, t=t)[0], expected)
    late = inv_freq(D, THETA, RopeScaling.TIME_AWARE, s, t=0.5, watershed=0.7)[0]
    torch.testing.assert_close(late, interp)  # a later watershed keeps interpolating longer
    assert Extrapolation(100, "time_aware").watershed == 0.3  # the public code's default
    smooth = inv_freq(D, THETA, RopeScaling.TIME_AWARE, s, t=0.5, watershed=None)[0]
    assert (smooth > interp * (1 + 1e-6)).any() and (smooth < ntk * (1 - 1e-6)).any()  # the paper's blend


def test_axial_scales_are_per_axis_and_ignore_frames():
    """A 4-frame clip at the training size is not squeezed; a 2x wider image scales w only."""
    model = tiny(cap_dim=16, rope="axial", axial_frames=True)
    feats, mask = caption(1)
    n_frame = model.seq_len((1, 8, 8))
    clip = torch.randn(1, 4, 4, 8, 8)
    with torch.no_grad():
        for mode in ("interpolation", "ntk", "time_aware"):
            ext = Extrapolation(train_seq_len=n_frame, rope=mode)
            torch.testing.assert_close(model(clip, 0.5, cap_feats=feats, cap_mask=mask, extrapolation=ext),
                                       model(clip, 0.5, cap_feats=feats, cap_mask=mask), rtol=1e-5, atol=1e-5)
    wide = torch.randn(1, 4, 1, 8, 16)
    _, layout = model.patchify(wide)
    seq_lens, scales = model._extrapolation_lengths(layout, Extrapolation(rope="interpolation", train_size=(8, 8)),
                                                    torch.device("cpu"))
    torch.testing.assert_close(scales, torch.tensor([[1.0, 1.0, 2.0]], dtype=torch.float64))
    n = model.seq_len((1, 8, 16))
    freqs = rope_tables(model._positions(layout, n, "cpu"), model.rope_dims, THETA,
                        Extrapolation(n_frame, "interpolation", train_size=(8, 8)), seq_lens, torch.tensor([0.5]), scales)
    plain = rope_tables(model._positions(layout, n, "cpu"), model.rope_dims, THETA)
    rows = (model.rope_dims[0] + model.rope_dims[1]) // 2  # complex slots of the frame and row parts
    torch.testing.assert_close(freqs[..., :rows], plain[..., :rows])  # frames and rows: as trained
    col1 = 1  # token 1 sits at (frame 0, row 0, column 1): its angles are the column frequencies
    torch.testing.assert_close(freqs[0, col1, 0, rows:].angle(), plain[0, col1, 0, rows:].angle() / 2)


def test_default_axial_split_suits_images():
    cfg = tiny(randomize=False, rope="axial").config
    assert cfg.rope_axial_dims == (0, cfg.head_dim // 2, cfg.head_dim // 2)  # rows and columns share the head
    video = tiny(randomize=False, rope="axial", axial_frames=True).config
    assert 0 < video.rope_axial_dims[0] and video.rope_axial_dims[1] == video.rope_axial_dims[2]
    with pytest.raises(ValueError, match="axial_frames"):
        tiny(cap_dim=16, rope="axial")(torch.randn(1, 4, 2, 4, 4), 0.5, cap_feats=caption(1)[0])


def test_proportional_attention_without_train_seq_len_says_so():
    model = tiny(cap_dim=16)
    with pytest.raises(ValueError, match="train_seq_len"):
        model(torch.randn(1, 4, 1, 8, 8), 0.5, cap_feats=caption(1)[0],
              extrapolation=Extrapolation(proportional_attn=True))
