"""The run's `padding_fraction` (TrainResult) and each log window's (the catalog's `padding_fraction`)
are [PAD] as a share of the padded tokens, as the per-epoch log lines say it: they were the mean of the
steps' fractions, so a small batch weighed as much as a full one (the walkthrough's odd-train: 0.081
against 4.1% in the epoch lines). Here a big batch without [PAD] and a small one half [PAD]: the token
share is 50 / 850 = 5.9%, the mean of the fractions 25%."""

from __future__ import annotations

import itertools
import math

import pytest

from tests.training.test_trainer import tiny_cfg
from training.trainer import _summary, train

BIG, SMALL = (800, 800), (50, 100)  # (tokens, padded tokens) of the two steps
SHARE = 1 - (BIG[0] + SMALL[0]) / (BIG[1] + SMALL[1])  # 50 / 850
MEAN = (0.0 + 0.5) / 2


def _row(step, tokens, padded, **kw):
    return {"step": step, "loss": 1.0, "grad_norm": 1.0, "lr": 1e-3, "tokens_per_s": 10.0, "padding": 1 - tokens / padded,
            "samples": 4, "seconds": 1.0, "tokens": tokens, "padded_tokens": padded, **kw}


def test_a_windows_padding_fraction_is_its_share_of_padded_tokens():
    assert _summary([_row(1, *BIG), _row(2, *SMALL)])["padding_fraction"] == pytest.approx(SHARE)
    assert _summary([_row(1, 0, 1)])["padding_fraction"] == 1.0


def test_a_window_begun_before_rows_carried_token_counts_keeps_the_mean_of_its_fractions():
    """The window_rows of a checkpoint written before (train_state.json) have no counts: a resume
    closes that window with the mean of its steps' fractions, as it was measured then."""
    old = {k: v for k, v in _row(1, *BIG).items() if k not in ("tokens", "padded_tokens")}
    assert _summary([old, _row(2, *SMALL)])["padding_fraction"] == pytest.approx(MEAN)


def test_the_runs_and_the_windows_padding_fraction_weigh_steps_by_their_padded_tokens(tiny_home, tmp_path, monkeypatch):
    """Two steps whose batches say (through the loader's item) 0% [PAD] of 800 tokens and 50% of 100."""
    from training.stream import ShardStream

    real = ShardStream.rank_batch
    told = itertools.chain([BIG, SMALL], itertools.repeat(SMALL))  # the loader may read ahead

    def rank_batch(self, *a, **kw):
        item = real(self, *a, **kw)
        tokens, padded = next(told)
        return {**item, "tokens": tokens, "padded_tokens": padded, "padding": 1 - tokens / padded}

    monkeypatch.setattr(ShardStream, "rank_batch", rank_batch)
    windows = []
    result = train(tiny_cfg(tiny_home, tmp_path / "run", steps=2, log_every=2),
                   on_checkpoint=lambda path, step, rows: windows.extend(rows))
    assert result.padding_fraction == pytest.approx(SHARE) and not math.isclose(SHARE, MEAN)
    assert [(w["step"], w["window_start"]) for w in windows] == [(2, 1)]
    assert windows[0]["padding_fraction"] == pytest.approx(SHARE)
