"""The epoch line read 'epoch 0: 2 batches, 3.5 samples per batch, 0 of one sample, [PAD] ...': '0 of
one sample' read as a count of samples. It now says the count is of batches that hold a single
sample, and that samples per batch is an average."""

from __future__ import annotations

import logging

from training.monitor import BatchLog
from training.stream import Position

log = logging.getLogger("test.epochline")


def _said(batches: list[list[int]], caplog) -> str:
    b = BatchLog(max_tokens=None)
    with caplog.at_level(logging.INFO, logger="test.epochline"):
        for i, sizes in enumerate(batches):
            b.add({"position": Position(0, i), "global_size": len(sizes), "tokens": sum(sizes),
                   "padded_tokens": len(sizes) * max(sizes), "epoch_ends": i == len(batches) - 1})
        b.say(log)
    (line,) = [r.getMessage() for r in caplog.records]
    return line


def test_no_batch_of_one(caplog):
    assert _said([[10] * 4, [10] * 3], caplog) == ("epoch 0: 2 batches, 3.5 samples per batch on average, "
                                                   "0 batches hold a single sample, [PAD] 0.0%")


def test_one_batch_of_one_is_singular(caplog):
    assert _said([[10] * 4, [10]], caplog) == ("epoch 0: 2 batches, 2.5 samples per batch on average, "
                                               "1 batch holds a single sample, [PAD] 0.0%")


def test_several(caplog):
    assert ", 2 batches hold a single sample, " in _said([[10], [10, 10], [10]], caplog)
