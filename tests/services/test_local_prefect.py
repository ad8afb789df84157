"""A Prefect server started for a run listens on 127.0.0.1 and dies with its parent, even after kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

import psutil
import pytest

from tests.flows.prefect_db_s57c import seed_prefect_db

REPO = Path(__file__).resolve().parents[2]

PARENT = r"""
import sys, time, psutil
from prefect import flow
from flows.local_prefect import local_prefect_server

@flow
def hello() -> int:
    return 41 + 1

with local_prefect_server() as url:
    assert hello() == 42                     # the flow ran against our server ...
    servers = psutil.Process().children()   # ... and Prefect started no temporary server of its own
    print(url, *[p.pid for p in servers], flush=True)
    time.sleep(300)
"""


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.slow
def test_prefect_server_dies_with_its_parent_after_kill_9(tmp_path, tmp_path_factory):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PYTHONPATH=str(REPO), PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               OMP_NUM_THREADS="1")
    seed_prefect_db(tmp_path / "prefect" / "prefect.db", tmp_path_factory)  # its default database, migrated: ~8 s less CPU
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        line = parent.stdout.readline().split()
        assert line, parent.stderr.read()[-3000:]
        url, pids = line[0], [int(p) for p in line[1:]]
        assert url.startswith("http://127.0.0.1:") and len(pids) == 1
        server = pids[0]
        with urlopen(url + "/health", timeout=10) as r:
            assert r.status == 200
        addrs = {c.laddr.ip for c in psutil.Process(server).net_connections("tcp") if c.status == psutil.CONN_LISTEN}
        assert addrs == {"127.0.0.1"}
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _gone(server):
        time.sleep(0.1)
    assert _gone(server), "the Prefect server outlived its parent"


def test_an_existing_server_is_used_and_nothing_is_started(monkeypatch):
    import flows.local_prefect
    from flows.local_prefect import local_prefect_server

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setattr(flows.local_prefect, "check_reachable", lambda url: None)  # it answers (tests/services/test_prefect_unreachable.py)
    before = {p.pid for p in psutil.Process().children()}
    started = []
    with local_prefect_server(on_start=lambda: started.append(1)) as url:
        assert url == "http://127.0.0.1:9/api"
        assert {p.pid for p in psutil.Process().children()} == before
    assert started == []  # a user's server is not configured by us (lumina demo's catalog-writer limit)
