"""Ctrl-C in a terminal sends SIGINT to the whole foreground process group. `lumina demo`'s private
Prefect server was in that group, so it stopped at once while the demo still had states and logs to
send: interrupted while training, the demo retried its dead server for 75 s (`ConnectError:
Connection refused`), then printed tracebacks ("Error logging to API") for 2 more minutes before it
exited (walkthrough of session 53: `kill -INT -- -PGID` of a `lumina demo --local`). The server now
runs in a session of its own; it still dies with its parent (PR_SET_PDEATHSIG) or when the block ends."""

from __future__ import annotations

import os
import sys

import flows.local_prefect as lp


def test_the_private_server_is_out_of_reach_of_the_terminals_ctrl_c(monkeypatch):
    # the real server takes ~8 s of CPU to start: a stand-in child, started the same way
    monkeypatch.setattr(lp, "server_command", lambda port, parent_pid=None: [sys.executable, "-c", "import time; time.sleep(60)"])
    monkeypatch.setattr(lp, "_wait_healthy", lambda proc, api_url, timeout_s: None)
    proc, url = lp.start_server(dict(os.environ), port=lp.free_port())
    try:
        assert url.startswith("http://127.0.0.1:")
        assert os.getpgid(proc.pid) != os.getpgid(0)  # not in the group a terminal's SIGINT reaches
    finally:
        lp.stop_server(proc)
    assert proc.returncode is not None
