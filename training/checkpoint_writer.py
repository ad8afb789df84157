"""Checkpoint writes, on the training thread or beside it (``TrainConfig.async_checkpoint``).

Asynchronous: the trainer copies the step's state in memory (a snapshot), hands its write to one
background thread and trains on; the thread writes, publishes, prunes and registers the folder.
One write at most is in flight: the next checkpoint first waits for the previous one, so memory
holds at most one extra copy of the training state, and a failed write stops the run at the next
checkpoint (or at the end) with the writer's own error. The snapshot's buffers are kept and reused:
fresh buffers cost page faults that made the copy of 0.4 GB take 0.14-0.25 s, as long as the
fastest of its writes to disk (0.15-1.1 s). The thread runs at the lowest CPU priority, so it writes in
the cores' idle time rather than taking one from training.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

import torch

log = logging.getLogger(__name__)


class CheckpointWriter:
    def __init__(self, asynchronous: bool):
        self._pool = (ThreadPoolExecutor(1, thread_name_prefix="checkpoint-writer", initializer=_lowest_priority)
                      if asynchronous else None)
        self._pending: Future | None = None
        self._buffers: dict[tuple[str, str], torch.Tensor] = {}

    @property
    def asynchronous(self) -> bool:
        return self._pool is not None

    def stage(self, tensors: dict[str, torch.Tensor], part: str) -> dict[str, torch.Tensor]:
        """CPU tensors a write may read while training goes on: asynchronous, copies into this
        writer's buffers for `part` (after the write in flight, which reads them, has finished);
        synchronous, the tensors themselves, moved to the CPU if need be."""
        if self._pool is None:
            return {k: v.detach().to("cpu") for k, v in tensors.items()}
        self.wait()
        staged = {}
        for name, value in tensors.items():
            buf = self._buffers.get((part, name))
            if buf is None or buf.shape != value.shape or buf.dtype != value.dtype:
                buf = torch.empty(value.shape, dtype=value.dtype, pin_memory=value.is_cuda)
                self._buffers[(part, name)] = buf
            staged[name] = buf.copy_(value.detach(), non_blocking=value.is_cuda)
        if torch.cuda.is_available():
            torch.cuda.synchronize()  # the non-blocking copies have landed before a thread reads them
        return staged

    def submit(self, write: Callable[[], None]) -> None:
        """Run `write` (which must own everything it reads: a snapshot, not live tensors) now, or
        in the background; either way after the previous write has finished."""
        self.wait()
        if self._pool is None:
            write()
        else:
            self._pending = self._pool.submit(write)

    def wait(self) -> None:
        """Until the write in flight, if any, is done; raises its error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """On the way out of a run that failed: let the write in flight finish (a folder is published
        whole or left for `clear_unfinished`), and log rather than raise its error, which would
        hide the run's own."""
        try:
            self.wait()
        except Exception:
            log.exception("the checkpoint being written when the run stopped failed")
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)


def _lowest_priority() -> None:
    """Nice 19 for the writer thread (Linux: a thread's own nice value): on a host whose cores all
    train, a writer at equal priority took a core from torch's thread pool, whose parallel regions
    then waited for it, and training slowed more than the write saved (bench/bench_async_checkpoint.py)."""
    import os
    import threading

    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass
