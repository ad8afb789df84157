"""A real deployment: Prefect server on 127.0.0.1, a process work pool, `prefect deploy --all`, a
worker, `prefect deployment run`, then the catalog rows. Every process started here is stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).parent / "prefect")
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen, first=signal.SIGINT, grace: float = 15) -> None:
    """A Prefect worker ignores the first SIGTERM: interrupt, wait, then kill the whole group."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, first)
        proc.wait(grace)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        pass
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:  # loopback only
                if r.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise TimeoutError("prefect server did not become healthy")


def test_deployment_runs_on_a_process_worker(tmp_path):
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    home = tmp_path / "lumina_home"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect_home"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}",
        "LUMINA_PROJECT_DIR": str(REPO),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "RAY_AUTH_MODE": "disabled",
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    started: list[subprocess.Popen] = []

    def spawn(name, *args):
        p = subprocess.Popen([PREFECT, *args], cwd=REPO, env=env, stdout=open(logs / f"{name}.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
        started.append(p)
        return p

    def run(*args, timeout=120):
        r = subprocess.run([PREFECT, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0, f"prefect {' '.join(args)}:\n{r.stdout}\n{r.stderr}"
        return r.stdout

    try:
        server = spawn("server", "server", "start", "--host", "127.0.0.1", "--port", str(port))
        _wait_healthy(api, server)
        run("work-pool", "create", "lumina-process", "--type", "process")
        run("--no-prompt", "deploy", "--all")
        spawn("worker", "worker", "start", "--pool", "lumina-process", "--limit", "1")
        params = {**yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text()), "home": str(home)}
        out = run("deployment", "run", "data_to_model/data-to-model", "--params", json.dumps(params), "--watch", "--watch-timeout", "420", timeout=480)
        assert "Completed" in out, out
    finally:
        for p in reversed(started):
            _stop(p, signal.SIGINT if p is not started[0] else signal.SIGTERM)
        for name in ("server", "worker"):
            if (logs / f"{name}.log").exists():
                print(f"--- {name} log (tail) ---\n" + (logs / f"{name}.log").read_text()[-3000:])
    assert all(p.poll() is not None for p in started)

    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT status FROM runs WHERE flow_name = 'data_to_model'").fetchall() == [("completed",)]
        counts = dict(con.execute("SELECT status, count(*) FROM samples GROUP BY status").fetchall())
        assert counts["accepted"] > 400 and counts["quarantined"] == 3 and counts["rejected"] >= 5
        assert con.execute("SELECT count(*) FROM checkpoints").fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM metrics WHERE name = 'heldout_fm_loss'").fetchone()[0] == 1
    finally:
        con.close()
