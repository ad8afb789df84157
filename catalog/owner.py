"""Who owns a run, and whether that owner is still alive: the facts recovery decides on.

A run records the PID, the start time and the host of the process that started it. On the same
host, a run whose process is gone (or is a zombie, or whose PID now belongs to a younger process)
is dead for certain; on another host only the heartbeat can tell (Catalog.mark_abandoned_runs).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

import psutil

DEFAULT_HEARTBEAT_TIMEOUT_S = 1800.0
HEARTBEAT_TIMEOUT_ENV = "LUMINA_RUN_HEARTBEAT_TIMEOUT_S"
_START_TIME_SLACK_S = 1.0  # create_time() is rounded differently across reads on some kernels


@dataclass(frozen=True)
class Owner:
    pid: int | None
    started: float | None  # process start time, epoch seconds
    host: str | None


def current_owner() -> Owner:
    return Owner(os.getpid(), psutil.Process().create_time(), socket.gethostname())


def heartbeat_timeout_s(value: float | None = None) -> float:
    """The argument, else $LUMINA_RUN_HEARTBEAT_TIMEOUT_S, else 30 minutes."""
    if value is not None:
        return float(value)
    return float(os.environ.get(HEARTBEAT_TIMEOUT_ENV) or DEFAULT_HEARTBEAT_TIMEOUT_S)


def process_alive(pid: int, started: float | None) -> bool:
    """True if ``pid`` runs on this host and is the same process that started at ``started``."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(proc.create_time() - started) <= _START_TIME_SLACK_S
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False  # AccessDenied only for other users' processes; ours would be readable


def is_abandoned(owner: Owner, heartbeat_at: datetime | None, now: datetime, timeout_s: float) -> bool:
    """A running run is abandoned if its owner died on this host, or (elsewhere, or owner unknown)
    its last heartbeat is older than ``timeout_s``. A live owner on this host is never overruled
    by an old heartbeat: long stages that forget to beat are not killed off."""
    if owner.pid is not None and owner.host == socket.gethostname():
        return not process_alive(owner.pid, owner.started)
    return heartbeat_at is None or now - heartbeat_at > timedelta(seconds=timeout_s)
