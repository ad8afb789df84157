"""How each epoch's batches were formed (monitor.BatchLog, RunMonitor.log_epoch): nothing showed it,
so the walkthrough's plan of [16, 1, 4] (one sample alone, a step in three) took a script to find."""

from __future__ import annotations

import logging

from training.monitor import BatchLog, EpochBatches, RunMonitor
from training.stream import Position

log = logging.getLogger("test.batchlog")


def item(epoch, index, sizes, last=False):
    """A trained batch as the loader hands it over: `sizes` are its samples' tokens."""
    return {"position": Position(epoch, index), "global_size": len(sizes), "tokens": sum(sizes),
            "padded_tokens": len(sizes) * max(sizes), "epoch_ends": last}


def test_each_epoch_is_summed_up_and_epochs_ending_in_one_window_share_a_line(caplog):
    b = BatchLog(max_tokens=None)
    with caplog.at_level(logging.INFO, logger="test.batchlog"):
        for e in range(3):
            b.add(item(e, 0, [272] * 16))
            b.add(item(e, 1, [272, 528]))
            assert b.add(item(e, 2, [272] * 3, last=True)).complete
            if e == 0:
                b.say(log)
        b.add(item(3, 0, [528]))
        b.say(log, run_ended=True)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["epoch 0: 3 batches, 7.0 samples per batch on average, 0 batches hold a single sample, [PAD] 4.1%",
                     "epochs 1-2: 6 batches, 7.0 samples per batch on average, 0 batches hold a single sample, [PAD] 4.1%",
                     "epoch 3, batch 0 (so far): 1 batch, 1.0 samples per batch on average, 1 batch holds a single sample, [PAD] 0.0%"]


def test_a_resumed_run_says_which_batches_of_its_first_epoch_it_trained():
    b = BatchLog(max_tokens=None)
    b.add(item(2, 5, [10, 10]))
    e = b.add(item(2, 6, [10, 10, 10], last=True))
    assert (e.first, e.batches, e.samples, e.complete, e.whole()) == (5, 2, 5, True, False)


def test_batches_of_one_forced_by_the_token_budget_are_warned_once_with_counts(caplog):
    b = BatchLog(max_tokens=1024)
    with caplog.at_level(logging.INFO, logger="test.batchlog"):
        b.add(item(0, 0, [544]))
        b.add(item(0, 1, [420, 420]))
        b.add(item(0, 2, [528]))
        b.say(log)  # a log window inside epoch 0: the warning comes now, not at the epoch's end
        b.add(item(0, 3, [544], last=True))
        b.say(log)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == ["2 of batches 0-2 of epoch 0 held one sample each: 2 samples have more than half of "
                      "--tokens-per-batch 1024 (up to 544 tokens), so no other sample fits beside one and each gets "
                      "an optimizer step of its own; --tokens-per-batch 1088 or more batches them in pairs (said once)"]
    assert any(r.getMessage().startswith("epoch 0: 4 batches, 1.2 samples per batch on average, 3 batches hold a single sample") for r in caplog.records)


def test_a_lone_sample_the_budget_would_pair_is_counted_but_not_warned(caplog):
    b = BatchLog(max_tokens=8192)
    with caplog.at_level(logging.INFO, logger="test.batchlog"):
        b.add(item(0, 0, [528], last=True))  # a one-sample manifest
        b.say(log, run_ended=True)
    assert [r.levelno for r in caplog.records] == [logging.INFO]


def test_tensorboard_gets_each_epochs_figures_at_the_step_that_ended_it(tmp_path):
    scalars = []

    class TB:
        def add_scalar(self, tag, value, step):
            scalars.append((tag, value, step))

        def close(self):
            pass

    m = RunMonitor(tmp_path, tensorboard=False)
    m.tb = TB()
    m.log_epoch(45, EpochBatches(14, batches=3, samples=21, ones=0, tokens=5968, padded=6224, complete=True))
    m.close()
    assert scalars == [("epoch/batches", 3, 45), ("epoch/samples_per_batch", 7.0, 45), ("epoch/batches_of_one", 0, 45),
                       ("epoch/padding", 1 - 5968 / 6224, 45)]
