"""RoPE scaling paths that a mutation run over modelzoo/rope.py showed no test pinned
(bench/mutation/REPORT.md): an explicit factor, shorter-than-training inputs, per-axis scales and
the token-ratio NTK read from them, and time-aware scaling without a time."""

from __future__ import annotations

import torch

from modelzoo import Extrapolation
from modelzoo.rope import NTKFormula, RopeScaling, inv_freq, rope_tables

THETA = 10000.0


def _angles(table: torch.Tensor, token: int = 1) -> torch.Tensor:
    """Angles of one token at position 1 on every axis: its frequencies. (d/2,)"""
    return table[0, token, 0].angle()


def _one_token_positions(axes: int) -> torch.Tensor:
    return torch.stack([torch.zeros(axes), torch.ones(axes)])[None]  # (1, 2, A): positions 0 and 1


def test_an_explicit_factor_overrides_the_length_ratio():
    pos = _one_token_positions(1)
    ext = Extrapolation(train_seq_len=100, rope="interpolation", factor=3.0)
    for n in (50, 100, 400):  # whatever the length, s = 3
        table = rope_tables(pos, (16,), THETA, ext, torch.tensor([n]), torch.tensor([0.5]))
        torch.testing.assert_close(_angles(table), inv_freq(16, THETA) / 3)


def test_inputs_shorter_than_training_are_not_stretched():
    pos = _one_token_positions(1)
    plain = rope_tables(pos, (16,), THETA)
    for mode in ("interpolation", "ntk", "time_aware"):
        ext = Extrapolation(train_seq_len=100, rope=mode)
        table = rope_tables(pos, (16,), THETA, ext, torch.tensor([25]), torch.tensor([0.5]))
        torch.testing.assert_close(table, plain)
    axial = _one_token_positions(3)
    plain = rope_tables(axial, (4, 6, 6), THETA)
    ext = Extrapolation(train_seq_len=100, rope="interpolation")
    torch.testing.assert_close(rope_tables(axial, (4, 6, 6), THETA, ext, torch.tensor([25]), torch.tensor([0.5])), plain)


def test_per_axis_scales_below_one_are_clamped_and_frames_never_scale():
    pos = _one_token_positions(3)
    dims = (4, 8, 8)
    scales = torch.tensor([[3.0, 0.5, 2.0]], dtype=torch.float64)  # frames, rows, columns
    ext = Extrapolation(rope="interpolation", train_size=(8, 8))
    table = rope_tables(pos, dims, THETA, ext, torch.tensor([64.0]), torch.tensor([0.5]), scales)
    angles = _angles(table)
    torch.testing.assert_close(angles[:2], inv_freq(4, THETA))  # frames: as trained, whatever the scale
    torch.testing.assert_close(angles[2:6], inv_freq(8, THETA))  # rows: a smaller size is not stretched
    torch.testing.assert_close(angles[6:], inv_freq(8, THETA) / 2)  # columns: twice as wide, squeezed by 2


def test_token_ratio_ntk_with_a_training_size_uses_the_spatial_area_ratio():
    pos = _one_token_positions(3)
    dims = (4, 8, 8)
    scales = torch.tensor([[5.0, 2.0, 3.0]], dtype=torch.float64)
    ext = Extrapolation(rope="ntk", ntk_formula="token_ratio", train_size=(8, 8))
    table = rope_tables(pos, dims, THETA, ext, torch.tensor([999.0]), torch.tensor([0.5]), scales)
    k = torch.arange(0, 8, 2, dtype=torch.float64) / 8
    area = ((THETA * 6.0) ** -k).float()  # rows x columns = 2 x 3; frames and the token count play no part
    torch.testing.assert_close(_angles(table)[2:], torch.cat([area, area]))
    torch.testing.assert_close(_angles(table)[:2], inv_freq(4, THETA))


def test_time_aware_scaling_without_a_time_is_the_data_end():
    pos = _one_token_positions(1)
    ext = Extrapolation(train_seq_len=100, rope="time_aware", watershed=None)
    no_time = rope_tables(pos, (16,), THETA, ext, torch.tensor([400]))
    ntk = rope_tables(pos, (16,), THETA, Extrapolation(train_seq_len=100, rope="ntk"), torch.tensor([400]))
    torch.testing.assert_close(no_time, ntk)
    assert ext.watershed is None  # the smooth blend was asked for


def test_per_sample_lengths_give_per_sample_tables():
    pos = _one_token_positions(1)
    ext = Extrapolation(train_seq_len=100, rope="interpolation")
    table = rope_tables(pos, (16,), THETA, ext, torch.tensor([100, 200, 400]), torch.tensor([0.5, 0.5, 0.5]))
    assert table.shape == (3, 2, 1, 8)
    for b, s in enumerate((1.0, 2.0, 4.0)):
        torch.testing.assert_close(table[b, 1, 0].angle(), inv_freq(16, THETA) / s)


def test_extrapolation_normalises_its_fields():
    ext = Extrapolation(train_size=[8.0, 12], rope="ntk", ntk_formula="token_ratio")
    assert ext.train_size == (8, 12) and all(type(v) is int for v in ext.train_size)
    assert ext.rope is RopeScaling.NTK and ext.ntk_formula is NTKFormula.TOKEN_RATIO
    assert Extrapolation().train_size is None


def test_time_aware_tables_follow_each_samples_time_and_the_watershed():
    pos = _one_token_positions(1)
    seq, s = torch.tensor([400, 400, 400]), 4.0  # s = N / N_train
    t = torch.tensor([0.1, 0.5, 0.9])
    interp = inv_freq(16, THETA, RopeScaling.INTERPOLATION, s)[0]
    ntk = inv_freq(16, THETA, RopeScaling.NTK, s)[0]
    stepped = rope_tables(pos, (16,), THETA, Extrapolation(train_seq_len=100, rope="time_aware"), seq, t)
    for b, want in enumerate((interp, ntk, ntk)):  # the public code's watershed, 0.3
        torch.testing.assert_close(stepped[b, 1, 0].angle(), want)
    smooth = rope_tables(pos, (16,), THETA, Extrapolation(train_seq_len=100, rope="time_aware", watershed=None), seq, t)
    for b in range(3):  # the paper's blend, asked for with watershed=None
        want = inv_freq(16, THETA, RopeScaling.TIME_AWARE, s, t=float(t[b]), watershed=None)[0]
        torch.testing.assert_close(smooth[b, 1, 0].angle(), want)


def test_with_a_training_length_the_token_ratio_is_the_token_counts():
    """train_seq_len given: N / N_train, even when per-axis scales are passed too."""
    pos = _one_token_positions(3)
    scales = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)  # area ratio 6
    ext = Extrapolation(train_seq_len=100, rope="ntk", ntk_formula="token_ratio")
    table = rope_tables(pos, (4, 8, 8), THETA, ext, torch.tensor([400.0]), torch.tensor([0.5]), scales)
    k = torch.arange(0, 8, 2, dtype=torch.float64) / 8
    ratio4 = ((THETA * 4.0) ** -k).float()
    torch.testing.assert_close(_angles(table)[2:], torch.cat([ratio4, ratio4]))


def test_scaled_frequencies_default_to_no_stretch():
    base = inv_freq(16, THETA)
    torch.testing.assert_close(inv_freq(16, THETA, RopeScaling.INTERPOLATION)[0], base)  # s = 1
    torch.testing.assert_close(inv_freq(16, THETA, RopeScaling.NTK)[0], base)
    torch.testing.assert_close(inv_freq(16, THETA, RopeScaling.NTK, ntk_formula=NTKFormula.TOKEN_RATIO)[0], base)


def test_time_aware_scaling_uses_the_chosen_ntk_formula_after_the_watershed():
    ratio_ntk = inv_freq(16, THETA, RopeScaling.NTK, 2.0, token_ratio=16.0, ntk_formula=NTKFormula.TOKEN_RATIO)[0]
    late = inv_freq(16, THETA, RopeScaling.TIME_AWARE, 2.0, token_ratio=16.0, t=0.8,
                    ntk_formula=NTKFormula.TOKEN_RATIO, watershed=0.3)[0]
    torch.testing.assert_close(late, ratio_ntk)
