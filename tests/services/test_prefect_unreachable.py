"""PREFECT_API_URL naming a server that is not running is one line, not Prefect's httpx traceback."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from flows.local_prefect import PrefectServerUnreachable, check_reachable, free_port


class _Health(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def health_server():
    server = HTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_server_that_answers_its_health_probe_passes(health_server):
    check_reachable(f"{health_server}/api", timeout_s=2)
    check_reachable(f"{health_server}/api/", timeout_s=2)  # a trailing slash, as Prefect profiles often have


def test_a_server_that_answers_with_an_error_status_is_reachable(health_server):
    # a server behind auth answers 401/403 to a probe without the key: it is there, Prefect's client sends the key
    check_reachable(f"{health_server}/elsewhere", timeout_s=0.5)


def test_a_port_nobody_listens_on_does_not_answer():
    with pytest.raises(PrefectServerUnreachable, match="does not answer"):
        check_reachable(f"http://127.0.0.1:{free_port()}/api", timeout_s=0.5)


def test_demo_against_a_dead_server_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    from flows.cli import EXIT_USAGE, main

    url = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    monkeypatch.setenv("PREFECT_API_URL", url)
    assert main(["demo", "--home", str(tmp_path / "home"), "--steps", "1", "--num-digits", "20"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"lumina demo: error: PREFECT_API_URL={url} does not answer: start that server "
                   f"(prefect server start --host 127.0.0.1) or unset PREFECT_API_URL, and lumina starts its own for the run"]
    assert not (tmp_path / "home" / "catalog.duckdb").exists()  # refused before any work
