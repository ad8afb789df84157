"""Encoder batches run one per core on a CPU (encoders/threads.py), and one batch used to run on every
core: on a big machine with a big VAE that many at once would not fit in memory. The encode stage
measures its first batch and runs no more at once than half the available memory holds."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from encoders import threads
from encoders.threads import PeakRss, affordable_workers


def _fresh(size: int):
    """``size`` bytes of new memory, touched and held 50 ms (as an encoder batch holds its memory, for seconds,
    releasing the GIL). np.ones was not enough: numpy's fill keeps the GIL, so the sampler could miss the
    array's life, and its malloc may reuse memory the process still holds from earlier tests (grown was
    4096 in the suite): an anonymous mmap is new pages every time."""
    import mmap

    m = mmap.mmap(-1, size)
    np.frombuffer(m, np.uint8)[:] = 1
    time.sleep(0.05)
    return m


def test_peak_rss_sees_memory_taken_and_given_back_inside_the_block():
    with PeakRss() as peak:
        m = _fresh(200 << 20)
        m.close()
    assert peak.grown > 150 << 20


def test_no_more_calls_at_once_than_half_the_available_memory_holds():
    gb = 1 << 30
    assert affordable_workers(64, 3 * gb, available=100 * gb) == 16
    assert affordable_workers(64, 3 * gb, available=4 * gb) == 1  # at least one
    assert affordable_workers(2, 1 << 20, available=100 * gb) == 2  # never more than wanted
    assert affordable_workers(8, 0, available=4 << 20) == 2  # a call that took nothing counts 1 MB


@pytest.fixture
def four_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    yield
    torch.set_num_threads(before)


def _stage():
    from preprocess.encode import EncodeStage

    stage = object.__new__(EncodeStage)  # _map needs only these two
    stage.device, stage.bytes_per_call = "cpu", None
    return stage


def test_the_first_batch_runs_alone_and_sets_how_many_run_at_once(monkeypatch, four_threads):
    seen = []
    real = threads.one_thread_map
    monkeypatch.setattr(threads, "one_thread_map", lambda fn, items, workers: seen.append((len(items), workers)) or real(fn, items, workers))
    monkeypatch.setattr(threads, "affordable_workers", lambda wanted, per_call: 2 if per_call > 100 << 20 else wanted)

    def batch(i):
        m = _fresh(120 << 20)  # each batch takes 120 MB
        m.close()
        return i + 1

    stage = _stage()
    assert stage._map(batch, list(range(6))) == [1, 2, 3, 4, 5, 6]
    assert seen == [(1, 1), (5, 2)] and stage.bytes_per_call > 100 << 20
    assert stage._map(batch, list(range(3))) == [1, 2, 3]  # measured once per stage
    assert seen[-1] == (3, 2)


def test_small_batches_run_one_per_core(monkeypatch, four_threads):
    seen = []
    real = threads.one_thread_map
    monkeypatch.setattr(threads, "one_thread_map", lambda fn, items, workers: seen.append((len(items), workers)) or real(fn, items, workers))
    stage = _stage()
    assert stage._map(lambda i: i * 2, list(range(9))) == list(range(0, 18, 2))
    assert seen == [(1, 1), (8, 4)]
