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

A call may take long (an encoder batch: 64 samples on one thread): one that calls ``check_stop``
between its steps ends at the next one when its map is ending (Ctrl-C, or an error in another call),
so Ctrl-C does not wait for every running call to end. How many calls run at once is capped by the
memory available (``affordable_workers``), the cgroup's limit counted (``available_memory``).
"""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
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


_worker = threading.local()  # on a pool thread of one_thread_map: .stop, the Event its map sets on an error or Ctrl-C


class Stopped(Exception):
    """Raised by check_stop in a call whose map is ending (another call failed, or Ctrl-C)."""


def _start_worker(stop: threading.Event) -> None:
    import torch

    torch.set_num_threads(1)  # this thread's OpenMP and MKL count (both thread-local under torch's OpenMP build)
    _worker.stop = stop


def check_stop() -> None:
    """Raises Stopped where this thread runs a call of a one_thread_map that is ending; a no-op anywhere
    else (the main thread: Ctrl-C lands there itself). A long call checks between its steps (the encode
    stage: per sample), so Ctrl-C stops the running calls at their next step, not after them."""
    stop = getattr(_worker, "stop", None)
    if stop is not None and stop.is_set():
        raise Stopped()


def one_thread_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> list[R]:
    """[fn(x) for x in items], in order, on ``workers`` threads that each run torch with one
    intra-op thread; the calling thread's own thread count is as it was afterwards. On an error in a
    call, or Ctrl-C, the calls not started are dropped and the running ones end at their next
    check_stop; the error (the first in the items' order) or the KeyboardInterrupt is raised."""
    import torch

    items = list(items)
    before = torch.get_num_threads()
    stop = threading.Event()
    pool = ThreadPoolExecutor(max(1, min(workers, len(items))), thread_name_prefix="encode",
                              initializer=_start_worker, initargs=(stop,))

    def call(x):
        check_stop()  # a call not yet started when the map began to end is not started
        try:
            return fn(x)
        except BaseException:
            stop.set()  # at once, not when the caller's thread sees it
            raise

    try:
        futures = [pool.submit(call, x) for x in items]
        wait(futures, return_when=FIRST_EXCEPTION)  # a KeyboardInterrupt lands here, in the main thread
    except BaseException:
        stop.set()
        raise
    finally:
        # the running calls are waited for, so none runs torch behind the caller's back; where the map
        # is ending they end at their next check_stop (else all are done by now)
        pool.shutdown(wait=True, cancel_futures=True)
        # torch.set_num_threads also sets the count threads started later begin with: put back the caller's
        torch.set_num_threads(before)
    errors = [f.exception() for f in futures if not f.cancelled() and f.exception() is not None]
    first = next((e for e in errors if not isinstance(e, Stopped)), errors[0] if errors else None)
    if first is not None:
        raise first
    return [f.result() for f in futures]


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

PROC_SELF_CGROUP = Path("/proc/self/cgroup")  # where this process's cgroups are named
CGROUP_ROOT = Path("/sys/fs/cgroup")  # cgroup v2's hierarchy; v1's memory controller under memory/


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() else None  # v2's "max": no limit


def _inactive_file(stat: Path, key: str) -> int:
    """Page cache the kernel would reclaim first (counted in the cgroup's usage, as psutil's
    ``available`` counts it free)."""
    try:
        for line in stat.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key and value.strip().isdigit():
                return int(value)
    except OSError:
        pass
    return 0


def _cgroup_dirs(base: Path, rel: str) -> list[Path]:
    """The cgroup's folder and its ancestors' under ``base`` (each may hold a limit). Inside a container
    the path /proc/self/cgroup names may not exist under the mount (its root is the container's cgroup):
    the folders that do not exist are skipped, the mount's root is always looked at."""
    parts = [p for p in rel.strip("/").split("/") if p]
    return [base.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def cgroup_available() -> int | None:
    """Bytes this process's cgroups (v2, else v1's memory controller) let it take before their limit:
    limit - (usage - inactive page cache), the least over its cgroup and the cgroups above; None where
    none sets a limit. psutil.virtual_memory() reports the host's memory inside a container."""
    try:
        lines = PROC_SELF_CGROUP.read_text().splitlines()
    except OSError:
        return None
    least = None
    for line in lines:
        hid, _, rest = line.partition(":")
        controllers, _, rel = rest.partition(":")
        if hid == "0" and controllers == "":  # v2 (unified)
            base, files = CGROUP_ROOT, ("memory.max", "memory.current", "inactive_file")
        elif "memory" in controllers.split(","):  # v1
            base, files = CGROUP_ROOT / "memory", ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
        else:
            continue
        for folder in _cgroup_dirs(base, rel):
            limit, usage = _read_int(folder / files[0]), _read_int(folder / files[1])
            if limit is None or usage is None or limit >= 1 << 60:  # no limit here (v1's "none" is a huge number)
                continue
            free = max(0, limit - max(0, usage - _inactive_file(folder / "memory.stat", files[2])))
            least = free if least is None else min(least, free)
    return least


def available_memory() -> int:
    """The memory available to this process: the machine's (psutil), or less where a cgroup limits it."""
    import psutil

    available = psutil.virtual_memory().available
    limited = cgroup_available()
    return available if limited is None else min(available, limited)


def affordable_workers(wanted: int, bytes_per_call: int, available: int | None = None) -> int:
    """At most ``wanted`` calls at once, and no more than MEMORY_SHARE of the available memory (the
    machine's, or its cgroup's: available_memory) holds at ``bytes_per_call`` each (at least one): one
    batch per core of a 64-core machine's SDXL VAE at 1024 px would need tens of GB where one batch on
    every core needed a few."""
    if available is None:
        available = available_memory()
    return max(1, min(wanted, int(available * MEMORY_SHARE) // max(int(bytes_per_call), 1 << 20)))
