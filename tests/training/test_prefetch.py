"""The trainer's read-ahead thread: same batches in the same order, errors where they happened,
and a consumer that stops early does not leave the reader blocked or still reading."""

from __future__ import annotations

import threading
import time

import pytest

from training.stream import prefetched


def test_prefetched_yields_every_batch_in_order():
    items = [{"i": i} for i in range(25)]
    assert list(prefetched(iter(items), depth=2)) == items


def test_prefetched_reads_ahead_while_the_consumer_works():
    read: list[int] = []

    def slow_source():
        for i in range(3):
            read.append(i)
            yield i

    it = prefetched(slow_source(), depth=2)
    assert next(it) == 0
    deadline = time.time() + 5
    while len(read) < 3 and time.time() < deadline:  # the thread fills the queue without being asked
        time.sleep(0.01)
    assert read == [0, 1, 2]
    assert list(it) == [1, 2]


def test_prefetched_raises_the_readers_error_at_its_batch():
    def broken():
        yield 1
        yield 2
        raise OSError("truncated shard")

    it = prefetched(broken())
    assert [next(it), next(it)] == [1, 2]
    with pytest.raises(OSError, match="truncated shard"):
        next(it)


def test_stopping_early_releases_the_reader():
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    before = threading.active_count()
    it = prefetched(endless(), depth=1)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()  # what happens when training stops at its step or time budget
    deadline = time.time() + 5
    while threading.active_count() > before and time.time() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before


def test_closing_waits_for_the_batch_being_read():
    """A process that exits while the reader is inside a batch dies in torch ("terminate called
    without an active exception", bench_loader's child did): close() returns only when it is done."""
    reading = threading.Event()

    def slow():
        i = 0
        while True:
            reading.set()
            time.sleep(0.3)  # a batch being read and collated
            yield i
            i += 1

    before = {t.ident for t in threading.enumerate()}
    it = prefetched(slow(), depth=1)
    assert next(it) == 0
    assert reading.wait(5)
    (reader,) = [t for t in threading.enumerate() if t.name == "batch-prefetch" and t.ident not in before]
    it.close()
    assert not reader.is_alive()  # this test's reader only: others in the same process are not ours
