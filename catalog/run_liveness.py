"""Runs the catalog records as running whose owner is gone, found read-only.

A run killed with its process (kill -9, a Prefect worker stopped with its flow runs) stays `running`
until the next run started on the catalog marks it abandoned (Catalog.start_run); where none starts,
it read `running` for good. `lumina catalog check` names such runs by the rule start_run applies
(owner.is_abandoned), so what it reports is what the next run will mark, and nothing is written.
"""

from __future__ import annotations

import shlex
import socket
from dataclasses import dataclass
from datetime import datetime

from .owner import Owner, heartbeat_timeout_s, is_abandoned

CHECK = "runs_running_owner_gone"  # its row in `lumina catalog check`

_RUNNING = """
SELECT run_id, flow_name, started_at, owner_pid, owner_started, owner_host, heartbeat_at
FROM runs WHERE status = 'running' ORDER BY started_at, run_id"""


@dataclass(frozen=True)
class StaleRun:
    run_id: str
    flow_name: str
    started_at: datetime
    why: str  # what tells it is gone

    def finding(self, catalog: str) -> str:
        """Its lines under `lumina catalog check`'s table: what, and what to do (the command given whole:
        it is to be copied; the catalog path quoted for the shell, as it may hold a space)."""
        mark = (f"UPDATE runs SET status = 'abandoned', ended_at = heartbeat_at WHERE run_id = '{self.run_id}' "
                "AND status = 'running'")
        return (f"{CHECK}: run {self.run_id} ({self.flow_name}, started {self.started_at:%Y-%m-%d %H:%M:%S} UTC) "
                f"is recorded as running, but {self.why}\n"
                f"  do: nothing: the next run started on this catalog marks it abandoned; or now: "
                f"lumina catalog sql --write --catalog {shlex.quote(catalog)} \"{mark}\"")


def stale_runs(cat, now: datetime | None = None) -> list[StaleRun]:
    """The runs of ``cat`` (an open Catalog, read-only will do) recorded as running that the next
    start_run would mark abandoned, oldest first."""
    from .db import utcnow

    now = now or utcnow()
    timeout = heartbeat_timeout_s(cat.heartbeat_timeout_s)
    stale = []
    for run_id, flow, started_at, pid, owner_started, host, beat in cat.sql(_RUNNING)[1]:
        owner = Owner(pid, owner_started, host)
        if is_abandoned(owner, beat, now, timeout):
            stale.append(StaleRun(run_id, flow, started_at, _why_gone(owner, beat, now, timeout)))
    return stale


def _why_gone(owner: Owner, beat: datetime | None, now: datetime, timeout: float) -> str:
    if owner.pid is not None and owner.host == socket.gethostname():
        return f"its process (PID {owner.pid} on this host) is gone"
    where = f"PID {owner.pid} on host {owner.host}" if owner.pid is not None else "its owner unrecorded"
    if beat is None:
        return f"it has no heartbeat ({where})"
    return (f"its last heartbeat is {(now - beat).total_seconds() / 60:.0f} min old ({where}; a run not on this "
            f"host counts as gone after {timeout:g} s without one)")
