"""A log window's tokens/s (the window line, the progress bar, the catalog's tokens_per_s) is its
throughput: its tokens over its steps' time, as the run's tokens_per_second is. It was the mean of
the steps' rates, which weighs a 2-sample step (slow per token) as much as a 9-sample one."""

import pytest

from training.trainer import _summary


def _row(step, tokens, seconds):
    return {"step": step, "loss": 1.0, "grad_norm": 1.0, "lr": 1e-3, "padding": 0.0, "samples": tokens // 70,
            "tokens": tokens, "padded_tokens": tokens, "tokens_per_s": tokens / seconds}


def test_a_window_says_its_tokens_over_its_time():
    # a full batch of 630 tokens in 0.02 s (31,500/s) and a 2-sample batch of 140 tokens in 0.03 s (4,667/s):
    # 770 tokens in 0.05 s is 15,400 a second, where the mean of the two rates said 18,083
    rows = [_row(1, 630, 0.02), _row(2, 140, 0.03)]
    assert _summary(rows)["tokens_per_s"] == pytest.approx(770 / 0.05)


def test_rows_without_token_counts_keep_the_mean_of_their_rates():
    # a window begun in a checkpoint written before rows carried their tokens
    rows = [{k: v for k, v in _row(1, 630, 0.02).items() if k not in ("tokens", "padded_tokens")},
            {k: v for k, v in _row(2, 140, 0.03).items() if k not in ("tokens", "padded_tokens")}]
    assert _summary(rows)["tokens_per_s"] == pytest.approx((630 / 0.02 + 140 / 0.03) / 2)
