"""A Prefect API server for one run, on 127.0.0.1, that dies with the process that started it.

Without PREFECT_API_URL, Prefect 3 starts a "temporary server" itself (SubprocessASGIServer:
uvicorn in a child process on 127.0.0.1, stopped by an atexit hook). A kill -9 of the flow process
skips atexit, so that server keeps listening, orphaned, for ever. Prefect has no setting to tie it
to its parent, so we start the same server ourselves, with the kernel's parent-death signal
(prctl PR_SET_PDEATHSIG, Linux) set in the child before it execs uvicorn:

    with local_prefect_server() as api_url:   # sets PREFECT_API_URL for the block (and children)
        data_to_model(...)

With PREFECT_API_URL already set (a real server, e.g. `prefect server start`), it does nothing and
yields that URL. Enter it from the main thread: the kernel sends the signal when the *thread*
that started the child exits. Elsewhere than Linux there is no such signal: the server is stopped
when the block ends, as Prefect's own is, and survives a kill -9.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator
from urllib.error import HTTPError, URLError
from urllib.request import urlopen

HOST = "127.0.0.1"

# Runs in the child: ask the kernel for SIGTERM when the parent dies, make sure the parent did
# not die already (the race before prctl), then become uvicorn (the signal survives exec).
_CHILD = """
import ctypes, os, signal, sys
PR_SET_PDEATHSIG = 1
if sys.platform.startswith("linux") and ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM):
    sys.exit("prctl(PR_SET_PDEATHSIG) failed")
if os.getppid() != int(sys.argv[1]):
    sys.exit(0)
os.execv(sys.executable, [sys.executable, "-m", "uvicorn", *sys.argv[2:]])
"""


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def server_command(port: int, parent_pid: int | None = None) -> list[str]:
    """The child's command line: the same ASGI app and flags Prefect's temporary server uses."""
    return [sys.executable, "-c", _CHILD, str(parent_pid or os.getpid()),
            "--app-dir", str(_prefect_dir().parent), "--factory", "prefect.server.api.server:create_app",
            "--host", HOST, "--port", str(port), "--log-level", "error", "--lifespan", "on"]


def _prefect_dir() -> Path:
    """Prefect's package folder (prefect.__module_path__), found without importing Prefect: the
    import is ~1 s of CPU in a process that only starts the server (the tests' session server)."""
    spec = importlib.util.find_spec("prefect")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("prefect is not installed")
    return Path(spec.origin).parent


class ServerExited(RuntimeError):
    def __init__(self, returncode: int):
        super().__init__(f"the Prefect server exited with code {returncode} before it was ready")
        self.returncode = returncode


def _wait_healthy(proc: subprocess.Popen, api_url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerExited(proc.returncode)
        try:
            # our own server's health probe on the loopback address it was started on: nothing is downloaded
            with urlopen(f"{api_url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except (URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the Prefect server on {api_url} was not ready within {timeout_s:g} s")


class PrefectServerUnreachable(ValueError):  # a ValueError: the CLI prints it as one line, not 110 of httpx traceback
    pass


def check_reachable(api_url: str, timeout_s: float = 5.0) -> None:
    """The server PREFECT_API_URL names answers its health probe within ``timeout_s``; else one clear error
    (Prefect itself fails a run after ~15 s of retries with a traceback ending in "Failed to reach API")."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urlopen(f"{api_url.rstrip('/')}/health", timeout=2):  # the user's own server: nothing is downloaded
                return
        except HTTPError:  # it answered (401/403: a server with auth, or Prefect Cloud, whose client sends the key)
            return
        except (URLError, OSError):
            pass
        if time.monotonic() >= deadline:
            raise PrefectServerUnreachable(
                f"PREFECT_API_URL={api_url} does not answer: start that server (prefect server start --host 127.0.0.1) "
                f"or unset PREFECT_API_URL, and lumina starts its own for the run")
        time.sleep(0.5)


def start_server(env: dict[str, str], port: int | None = None, startup_timeout_s: float = 120.0) -> tuple[subprocess.Popen, str]:
    """Start the server (parent-death signal set) with ``env`` and wait until it is healthy: (process, API URL)."""
    for attempt in range(1 if port else 3):
        chosen = port or free_port()
        api_url = f"http://{HOST}:{chosen}/api"
        proc = subprocess.Popen(server_command(chosen), env=env, stdin=subprocess.DEVNULL)
        try:
            _wait_healthy(proc, api_url, startup_timeout_s)
            return proc, api_url
        except ServerExited as e:
            # uvicorn exits 3 when it cannot start, e.g. the free port was taken meanwhile: try another
            if e.returncode != 3 or port or attempt == 2:
                raise
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    raise AssertionError("unreachable")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def server_env(base: dict[str, str] | None = None, ui: bool = False) -> dict[str, str]:
    """What Prefect's own temporary server sets: no analytics, only the services an ephemeral server needs."""
    return {**(os.environ if base is None else base), "PREFECT_UI_ENABLED": "1" if ui else "0",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}


@contextmanager
def local_prefect_server(port: int | None = None, startup_timeout_s: float = 120.0,
                         ui: bool = False, on_start: Callable[[], object] | None = None) -> Iterator[str]:
    """Yield the API URL of a Prefect server that lives as long as this block (and this process).
    `on_start` runs once against a server started here (not against an existing one)."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    existing = os.environ.get("PREFECT_API_URL") or get_current_settings().api.url  # env, or a Prefect profile
    if existing:
        check_reachable(existing)
        yield existing
        return

    proc, api_url = start_server(server_env(ui=ui), port, startup_timeout_s)
    try:
        os.environ["PREFECT_API_URL"] = api_url  # for processes this run starts
        try:
            with temporary_settings(updates={PREFECT_API_URL: api_url}):  # Prefect read the env at import
                if on_start is not None:
                    on_start()
                yield api_url
        finally:
            os.environ.pop("PREFECT_API_URL", None)
    finally:
        stop_server(proc)
