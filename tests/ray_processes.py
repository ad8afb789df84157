"""Finding and stopping the processes of a Ray cluster a test started for itself (never `ray stop`:
it stops every Ray on the machine)."""

from __future__ import annotations

import os
import signal
import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cluster_pids(temp_dir: str, *roots: int) -> set[int]:
    """``roots`` (e.g. the head's `ray start`), every process naming the cluster's temp dir (GCS,
    raylet, agents) and every process under them (the workers, renamed `ray::...`)."""
    import psutil

    pids = set(roots)
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            if any(temp_dir in part for part in p.info["cmdline"] or []):
                pids.add(p.info["pid"])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    for pid in list(pids):
        try:
            pids |= {c.pid for c in psutil.Process(pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            continue
    return pids


def kill(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
