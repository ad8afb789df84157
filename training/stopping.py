"""Stopping a run cleanly: SIGTERM or SIGINT ends training at the next step boundary with a checkpoint.

Schedulers (Slurm, Kubernetes, spot reclaims, torchrun's agent, Prefect cancellations) send SIGTERM
and wait a grace period before SIGKILL. Without a handler the process dies mid-step and the run
loses everything since its last checkpoint; with it, the step in flight finishes, a resumable
checkpoint is written and registered, and `--resume` continues from there. A second signal is
handed to whatever handler was there before (a second Ctrl-C interrupts at once).
"""

from __future__ import annotations

import os
import re
import signal
import threading
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class TrainingStopped(BaseException):
    """Raised by the entry points after a signal-stopped run has written and registered its
    checkpoint. A BaseException, like KeyboardInterrupt: a stop request, not a failure to retry."""

    def __init__(self, signum: int, step: int, checkpoint: str):
        self.signum, self.step, self.checkpoint = signum, step, checkpoint
        super().__init__(f"stopped by {signal.Signals(signum).name} at step {step}; checkpoint {checkpoint} "
                         "is written and registered: continue with --resume")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # the shell's convention for "ended by this signal"

    @classmethod
    def from_message(cls, message: str) -> "TrainingStopped | None":
        """Back from the message alone: a Prefect flow that ends Cancelled keeps only that."""
        m = _MESSAGE.match(message)
        return cls(signal.Signals[m["signal"]], int(m["step"]), m["checkpoint"]) if m else None


_MESSAGE = re.compile(r"stopped by (?P<signal>SIG[A-Z]+) at step (?P<step>\d+); checkpoint (?P<checkpoint>.*) is written and registered")


class StopRequest:
    """Context manager: while active, the first SIGTERM/SIGINT only sets ``signum``; the previous
    handlers are back on exit. In a thread other than the main one (signals cannot be caught there)
    it does nothing and ``signum`` stays None."""

    def __init__(self, signals: tuple[int, ...] = STOP_SIGNALS):
        self.signals = signals
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        self._restore()

    def _restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:  # only a flag here: the loop logs and stops at the step boundary
            self.signum = signum
            return
        previous = self._previous.get(signum, signal.SIG_DFL)
        self._restore()
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            os.kill(os.getpid(), signum)
        # SIG_IGN: ignored, as before
