"""Stopping a run cleanly: SIGTERM or SIGINT ends training at the next step boundary with a checkpoint.

Schedulers (Slurm, Kubernetes, spot reclaims, torchrun's agent, Prefect cancellations) send SIGTERM
and wait a grace period before SIGKILL. Without a handler the process dies mid-step and the run
loses everything since its last checkpoint; with it, the step in flight finishes, a resumable
checkpoint is written and registered, and `--resume` continues from there. A second signal, once
the "stop requested" line is out, is handed to whatever handler was there before (a second Ctrl-C
interrupts at once); once the stop's checkpoint is written, it raises the stop (TrainingStopped) at
once, so its line still names the checkpoint and how the run goes on. Two within one step count as one: Python runs handlers between calls into
torch (a CPU step is mostly one long backward) and merges repeats of a signal still pending.

A STOP file in the run's folder asks the same of a run from outside (`touch runs/<id>/STOP`; its
text may name the signal, e.g. SIGINT): the Ray launcher's driver writes it when it is signalled,
as its workers run training in threads where no handler can be installed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Callable

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class TrainingStopped(BaseException):
    """Raised by the entry points after a signal-stopped run has written and registered its
    checkpoint. A BaseException, like KeyboardInterrupt: a stop request, not a failure to retry."""

    def __init__(self, signum: int, step: int, checkpoint: str):
        self.signum, self.step, self.checkpoint = signum, step, checkpoint
        super().__init__(f"stopped by {signal.Signals(signum).name} at step {step}; checkpoint {checkpoint} "
                         f"is written and registered: {resume_advice(checkpoint)}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # the shell's convention for "ended by this signal"

    @classmethod
    def from_message(cls, message: str) -> "TrainingStopped | None":
        """Back from the message alone: a Prefect flow that ends Cancelled keeps only that."""
        m = _MESSAGE.match(message)
        return cls(signal.Signals[m["signal"]], int(m["step"]), m["checkpoint"]) if m else None


def shell_word(path: str | Path) -> str:
    """``path`` as one word of a command a message tells the user to run: quoted where it holds a space,
    a quote or a non-ASCII letter (a run folder "my runs/été" was printed bare, and the pasted command
    split it); a plain path as it is."""
    return shlex.quote(str(path))


def resume_advice(checkpoint: str | Path, init_from: str | None = None) -> str:
    """How a stopped run goes on: ``continue with --resume --out-dir RUN``. Where the run began from
    ``--init-from`` (``init_from``, else its checkpoint's training.json says so), also to leave that
    out: the stage's own command with --resume added was refused as both, and where its --config
    file holds the init_from the flag cannot be left out, so the line names ``--set init_from=null``."""
    advice = f"continue with --resume --out-dir {shell_word(Path(checkpoint).parent)}"
    if init_from or _began_from(Path(checkpoint)):
        advice += (" and without --init-from, which this run began from (where the --config file holds init_from:, "
                   "add --set init_from=null)")
    return advice


def _began_from(checkpoint: Path) -> str | None:
    """The --init-from the run of ``checkpoint`` began with (training.json's train_config), or None.
    A resumed run records none: its command already resumes."""
    try:
        saved = json.loads((checkpoint / "training.json").read_text()).get("train_config")
    except (OSError, ValueError, AttributeError):  # no such file (a test's path), or not ours
        return None
    return saved.get("init_from") if isinstance(saved, dict) else None


_MESSAGE = re.compile(r"stopped by (?P<signal>SIG[A-Z]+) at step (?P<step>\d+); checkpoint (?P<checkpoint>.*) is written and registered")


class StopRequest:
    """Context manager: while active, the first SIGTERM/SIGINT only sets ``signum``; the previous
    handlers are back on exit. In a thread other than the main one (signals cannot be caught there)
    it does nothing and ``signum`` stays None."""

    def __init__(self, signals: tuple[int, ...] = STOP_SIGNALS, on_first: Callable[[int], None] | None = None):
        self.signals = signals
        self.on_first = on_first  # also called with the first signal, in the handler
        self.signum: int | None = None
        self.written: tuple[int, str] | None = None  # (step, checkpoint) once the stop's checkpoint is out
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                previous = signal.signal(s, self._handle)
                self._previous[s] = signal.SIG_DFL if previous is None else previous  # None: set outside Python
        return self

    def __exit__(self, *exc) -> None:
        self._restore()

    def _restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}

    def stop_checkpoint_written(self, step: int, checkpoint: str) -> None:
        """The stop's checkpoint is written and registered: a signal from now on (a second Ctrl-C
        during the clean-up after it) still ends the run at once, but as TrainingStopped, whose line
        says how the run goes on; as a KeyboardInterrupt it printed only 'interrupted'."""
        self.written = (step, checkpoint)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:  # only a flag here: the loop logs and stops at the step boundary
            self.signum = signum
            if self.on_first is not None:
                self.on_first(signum)
            return
        self._restore()
        if self.written is not None:
            raise TrainingStopped(signum, *self.written)
        os.kill(os.getpid(), signum)  # once more, to the handler that was there before (or the default)


STOP_FILE = "STOP"


def write_stop_file(run_dir: str | Path, signum: int = signal.SIGTERM) -> Path:
    """Whole or not at all (a temporary file renamed over it): the workers poll it, and one that read
    it between write_text's truncation and its write read an empty file, which stands for SIGTERM
    (a Ctrl-C ended a Ray Train run as SIGTERM, exit 143)."""
    path = Path(run_dir) / STOP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{STOP_FILE}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(signal.Signals(signum).name + "\n")
    os.replace(tmp, path)
    return path


def stop_file_signal(run_dir: str | Path) -> int:
    """The signal a STOP file in run_dir stands for (its text; empty or unknown: SIGTERM), 0 without one."""
    try:
        text = (Path(run_dir) / STOP_FILE).read_text().strip()
    except FileNotFoundError:
        return 0
    return int(signal.Signals[text]) if text in signal.Signals.__members__ else int(signal.SIGTERM)


def remove_stop_file(run_dir: str | Path) -> None:
    """Once acted on: a --resume into the same folder must not stop at once."""
    (Path(run_dir) / STOP_FILE).unlink(missing_ok=True)
