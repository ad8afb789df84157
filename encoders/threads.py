"""Encoder calls whose results do not depend on the machine's thread count.

torch's CPU kernels may split one sum over the threads they are given: MKL's sgemm splits the inner
dimension of a matmul with few rows and a long inner dimension (MiniLM's 1536 -> 384 projection of a
last batch of 3 captions), so an encoder gives other last bits at another intra-op thread count.
Encoded shards are named by their inputs and encoders, so `lumina encode --local` (every core) and
Ray's actors (one thread each) wrote different bytes under the same name.

Here every encoder call runs with one intra-op thread, and the cores are used by running several
calls at once, each on a thread of its own (torch releases the GIL in its kernels): the bytes depend
on what each call encodes (the encode stage's batches), never on how many threads run them.
An encoder whose ``encode`` may run in several threads at once says so with ``thread_safe = True``;
the calls of any other are made one at a time (still with one thread each).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def cpu_workers(device: str | None) -> int:
    """Encoder calls to run at once: torch's intra-op thread count on the CPU (the cores `--local` has;
    the one of a Ray actor's CPU), one on a GPU, where the thread count changes no sum."""
    if device and device != "cpu":
        return 1
    import torch

    return max(1, torch.get_num_threads())


def _one_intra_op_thread() -> None:
    import torch

    torch.set_num_threads(1)  # this thread's OpenMP and MKL count (both thread-local under torch's OpenMP build)


def one_thread_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> list[R]:
    """[fn(x) for x in items], in order, on ``workers`` threads that each run torch with one
    intra-op thread; the calling thread's own thread count is as it was afterwards."""
    import torch

    items = list(items)
    before = torch.get_num_threads()
    pool = ThreadPoolExecutor(max(1, min(workers, len(items))), thread_name_prefix="encode", initializer=_one_intra_op_thread)
    try:
        return list(pool.map(fn, items))
    finally:
        # after an error or Ctrl-C the calls not started are dropped: only the running ones are waited for
        pool.shutdown(wait=True, cancel_futures=True)
        # torch.set_num_threads also sets the count threads started later begin with: put back the caller's
        torch.set_num_threads(before)


def one_thread_call(fn: Callable[..., R], *args, **kwargs) -> R:
    """fn(*args, **kwargs) with one intra-op thread (on a thread of its own), as one_thread_map runs it."""
    return one_thread_map(lambda _: fn(*args, **kwargs), [None], 1)[0]


class Serialised:
    """``call(fn, ...)``: runs fn under a lock unless ``encoder.thread_safe``: what the encode stage
    wraps each encoder's calls in when it runs several at once."""

    def __init__(self, encoder: object):
        self.lock = None if getattr(encoder, "thread_safe", False) else threading.Lock()

    def call(self, fn: Callable[..., R], *args, **kwargs) -> R:
        if self.lock is None:
            return fn(*args, **kwargs)
        with self.lock:
            return fn(*args, **kwargs)


class PeakRss:
    """``with PeakRss() as peak: ...`` then ``peak.grown``: how far this process's resident memory rose
    above where it stood on entry, sampled every few milliseconds on a thread of its own."""

    def __init__(self, every_s: float = 0.005):
        self.every_s, self.grown = every_s, 0
        self._stop = threading.Event()

    def __enter__(self) -> "PeakRss":
        import psutil

        self._proc = psutil.Process()
        self._start = self._peak = self._proc.memory_info().rss
        self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.every_s):
            self._peak = max(self._peak, self._proc.memory_info().rss)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._proc.memory_info().rss)
        self.grown = self._peak - self._start


MEMORY_SHARE = 0.5  # of the memory available when the calls start: what concurrent encoder calls may take


def affordable_workers(wanted: int, bytes_per_call: int, available: int | None = None) -> int:
    """At most ``wanted`` calls at once, and no more than MEMORY_SHARE of the available memory holds at
    ``bytes_per_call`` each (at least one): one batch per core of a 64-core machine's SDXL VAE at 1024 px
    would need tens of GB where one batch on every core needed a few."""
    if available is None:
        import psutil

        available = psutil.virtual_memory().available
    return max(1, min(wanted, int(available * MEMORY_SHARE) // max(int(bytes_per_call), 1 << 20)))
