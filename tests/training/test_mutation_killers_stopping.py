"""The window means a stopped or partly skipped log window reports to the catalog (trainer._summary),
and the samples the skipped-step warning names (trainer._suspects)."""

import math

from training.trainer import _summary


def _row(step, loss, grad_norm, lr, tokens_per_s, padding):
    return dict(step=step, loss=loss, grad_norm=grad_norm, lr=lr, tokens_per_s=tokens_per_s, padding=padding)


def test_a_window_with_a_skipped_step_leaves_it_out_of_the_loss_and_grad_norm_means():
    rows = [_row(11, 1.0, 2.0, 0.1, 10.0, 0.0), _row(12, math.nan, math.nan, 0.2, 20.0, 0.3), _row(13, 3.0, 4.0, 0.3, 60.0, 0.6)]
    assert _summary(rows) == {"step": 13, "window_start": 11, "train_fm_loss": 2.0, "grad_norm": 3.0, "lr": 0.3, "tokens_per_s": 30.0,
                              "padding_fraction": 0.3, "skipped_steps": 1}


def test_a_window_without_skipped_steps_reports_no_skipped_count():
    rows = [_row(5, 2.0, 1.0, 0.5, 8.0, 0.25), _row(6, 4.0, 3.0, 0.25, 4.0, 0.75)]
    assert _summary(rows) == {"step": 6, "window_start": 5, "train_fm_loss": 3.0, "grad_norm": 2.0, "lr": 0.25, "tokens_per_s": 6.0,
                              "padding_fraction": 0.5}


def test_a_window_of_only_skipped_steps_has_no_mean_loss():
    out = _summary([_row(7, math.nan, math.inf, 0.1, 1.0, 0.0)])
    assert math.isnan(out["train_fm_loss"]) and math.isnan(out["grad_norm"]) and out["skipped_steps"] == 1


def test_the_skipped_step_warning_names_the_samples_whose_loss_is_not_finite():
    import torch

    from training.trainer import _suspects

    keys = [f"k{i}" for i in range(12)]
    one_bad = torch.tensor([0.5] * 12)
    one_bad[3] = math.nan
    assert _suspects(keys, one_bad) == "samples with a non-finite loss: k3"
    assert _suspects(keys, torch.full((12,), math.inf)) == "samples with a non-finite loss: k0, k1, k2, k3, k4, k5, k6, k7 and 4 more"
    assert _suspects(keys, torch.ones(12)) == "every loss is finite; this rank's share: k0, k1, k2, k3, k4, k5, k6, k7 and 4 more"
    assert _suspects(keys[:2], torch.ones(2, dtype=torch.bfloat16)) == "every loss is finite; this rank's share: k0, k1"
    assert _suspects(keys[:8], torch.ones(8)).endswith("k6, k7") and _suspects(keys[:9], torch.ones(9)).endswith("k7 and 1 more")
