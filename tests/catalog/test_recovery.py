"""Recovery: a run whose process died is marked abandoned by the next run (owner PID, heartbeat)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta

import duckdb
import pytest

from catalog import Catalog
from catalog.db import migrate, utcnow
from catalog.owner import process_alive

from .helpers import REPO, subprocess_env

VICTIM = """
import sys, time
from catalog import Catalog
with Catalog.open(sys.argv[1]) as cat:
    cat.start_run("curate", {"source": "x"}, run_id="victim")
print("started", flush=True)
time.sleep(120)
"""


def _status(path, run_id: str) -> tuple:
    with Catalog.open(path, read_only=True) as cat:
        return cat.sql("SELECT status, ended_at IS NOT NULL FROM runs WHERE run_id = ?", [run_id])[1][0]


def _set(path, run_id: str, **cols) -> None:
    with Catalog.open(path) as cat:
        for col, value in cols.items():
            cat.sql(f"UPDATE runs SET {col} = ? WHERE run_id = ?", [value, run_id])


def test_a_run_killed_with_sigkill_is_marked_abandoned_by_the_next_run(tmp_path):
    path = tmp_path / "catalog.duckdb"
    proc = subprocess.Popen([sys.executable, "-c", VICTIM, str(path)], cwd=REPO, env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started", proc.stderr.read()
        with Catalog.open(path) as cat:  # while it lives, the next run leaves it alone
            cat.start_run("curate", run_id="neighbour")
        assert _status(path, "victim") == ("running", False)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert _status(path, "victim") == ("running", False)  # nothing cleaned up after a kill -9 ...
    with Catalog.open(path) as cat:
        cat.start_run("curate", run_id="next")  # ... until the next run starts
        owner = cat.sql("SELECT owner_pid, owner_host IS NOT NULL FROM runs WHERE run_id = 'next'")[1]
    assert _status(path, "victim") == ("abandoned", True)
    assert _status(path, "next") == ("running", False) and owner == [(os.getpid(), True)]
    assert _status(path, "neighbour") == ("running", False)  # its owner (this process) is alive


def test_a_live_owner_on_this_host_is_never_abandoned_for_an_old_heartbeat(tmp_path):
    path = tmp_path / "c.duckdb"
    with Catalog.open(path, heartbeat_timeout_s=1) as cat:
        cat.start_run("train", run_id="long")
        _set(path, "long", heartbeat_at=utcnow() - timedelta(days=1))
        assert cat.mark_abandoned_runs() == []
    assert _status(path, "long") == ("running", False)


def test_a_reused_pid_does_not_keep_a_dead_run_alive(tmp_path):
    path = tmp_path / "c.duckdb"
    with Catalog.open(path) as cat:
        cat.start_run("train", run_id="old")
        # same PID as a live process (this one), but that process started later: not the owner
        cat.sql("UPDATE runs SET owner_started = owner_started - 3600 WHERE run_id = 'old'")
        cat.start_run("train", run_id="new")
    assert _status(path, "old") == ("abandoned", True)


def test_runs_owned_elsewhere_are_judged_by_their_heartbeat(tmp_path):
    path = tmp_path / "c.duckdb"
    with Catalog.open(path, heartbeat_timeout_s=600) as cat:
        cat.start_run("curate", run_id="stale")
        cat.start_run("curate", run_id="fresh")
        for run_id, age_s in (("stale", 601), ("fresh", 30)):
            _set(path, run_id, owner_host="another-host", heartbeat_at=utcnow() - timedelta(seconds=age_s))
        assert cat.mark_abandoned_runs() == ["stale"]
        cat.heartbeat("stale")  # it was alive after all: a beat revives it
    assert _status(path, "stale") == ("running", False) and _status(path, "fresh") == ("running", False)


def test_heartbeat_and_keep_alive_move_the_heartbeat(tmp_path):
    path = tmp_path / "c.duckdb"
    with Catalog.open(path) as cat:
        cat.start_run("train", run_id="r")
        _set(path, "r", heartbeat_at=datetime(2020, 1, 1))
        cat.heartbeat("r")
        (beat,), = cat.sql("SELECT heartbeat_at FROM runs WHERE run_id = 'r'")[1]
        assert beat > utcnow() - timedelta(minutes=1)
        _set(path, "r", heartbeat_at=datetime(2020, 1, 1))
        with cat.keep_alive("r", every_s=0.05):
            time.sleep(0.5)
        (beat,), = cat.sql("SELECT heartbeat_at FROM runs WHERE run_id = 'r'")[1]
        assert beat > utcnow() - timedelta(minutes=1)
        with pytest.raises(ValueError, match="unknown run"):
            cat.heartbeat("nope")
        with pytest.raises(ValueError, match="completed, failed or cancelled"):
            cat.finish_run("r", status="abandoned")


def test_a_zombie_owner_counts_as_dead():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process_alive(proc.pid, None):
        time.sleep(0.02)
    assert not process_alive(proc.pid, None)  # exited but not reaped yet: a zombie
    proc.wait()
    assert process_alive(os.getpid(), None)


def test_a_v3_catalog_with_a_running_run_migrates_and_is_then_recovered(tmp_path):
    path = tmp_path / "v3.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, path, target=3)
    con.execute("INSERT INTO runs VALUES ('lost', 'curate', '{}', 'abc', ?, NULL, 'running')", [datetime(2025, 1, 1)])
    con.execute("INSERT INTO runs VALUES ('done', 'curate', '{}', 'abc', ?, ?, 'completed')",
                [datetime(2025, 1, 1), datetime(2025, 1, 2)])
    con.close()
    with Catalog.open(path) as cat:
        rows = cat.sql("SELECT run_id, status, owner_pid, heartbeat_at FROM runs ORDER BY run_id")[1]
        assert rows == [("done", "completed", None, datetime(2025, 1, 2)), ("lost", "running", None, datetime(2025, 1, 1))]
        cat.start_run("curate", run_id="after-upgrade")  # an owner-less run: only its heartbeat can tell
    assert _status(path, "lost") == ("abandoned", True) and _status(path, "done") == ("completed", True)
