"""A Prefect API server for one run, on 127.0.0.1, that dies with the process that started it.

Without PREFECT_API_URL, Prefect 3 starts a "temporary server" itself (SubprocessASGIServer:
uvicorn in a child process on 127.0.0.1, stopped by an atexit hook). A kill -9 of the flow process
skips atexit, so that server keeps listening, orphaned, for ever. Prefect has no setting to tie it
to its parent, so we start the same server ourselves, with the kernel's parent-death signal
(prctl PR_SET_PDEATHSIG, Linux) set in the child before it execs uvicorn:

    with local_prefect_server() as api_url:   # sets PREFECT_API_URL for the block (and children)
        data_to_model(...)

The server runs in a session of its own, so a terminal's Ctrl-C (SIGINT to the foreground process
group) reaches only the run, which then reports its stop to a server still there.

With PREFECT_API_URL already set (a real server, e.g. `prefect server start`), it does nothing and
yields that URL. Enter it from the main thread: the kernel sends the signal when the *thread*
that started the child exits. Elsewhere than Linux there is no such signal: the server is stopped
when the block ends, as Prefect's own is, and survives a kill -9.

A flow run holds the catalog-writer slot (flows/steps.catalog_writer) under a lease it renews. Such
a server keeps leases in its memory by default, and as an ephemeral server it has no service that
frees the slots of expired leases: a run killed -9 while writing took the slot with it, and every
later run on the same Prefect database (PREFECT_HOME) waited at its first catalog write for ever.
So the server keeps its leases on disk (PREFECT_HOME/concurrency_leases) and the block frees the
slots of expired leases, what a full server's repossessor does: at the start and every
REAP_EVERY_S while it lasts (a dead holder's lease expires 300 s after its last renewal).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator
from urllib.error import HTTPError, URLError
from urllib.request import urlopen

HOST = "127.0.0.1"
# leases on disk, shared by the servers of one PREFECT_HOME (Prefect's default keeps them in memory)
LEASE_STORAGE = "prefect.server.concurrency.lease_storage.filesystem"
REAP_EVERY_S = 15.0

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
        # its own session: a terminal's Ctrl-C goes to the whole foreground process group, and the server
        # stopped at once while the run it serves still had states and logs to send (a `lumina demo`
        # interrupted while training retried its dead server for 75 s, then printed tracebacks for 2 min
        # more); it still dies with this process (the parent-death signal) or at the end of the block
        proc = subprocess.Popen(server_command(chosen), env=env, stdin=subprocess.DEVNULL, start_new_session=True)
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
    """What Prefect's own temporary server sets: no analytics, only the services an ephemeral server needs;
    and leases on disk (LEASE_STORAGE) unless ``base`` names another storage."""
    base = os.environ if base is None else base
    return {"PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": LEASE_STORAGE, **base, "PREFECT_UI_ENABLED": "1" if ui else "0",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}


def release_expired_leases(lease_dir: Path, api_url: str) -> int:
    """Free the slots of the expired leases kept in ``lease_dir`` through the server at ``api_url`` (its
    release endpoint: it decrements the slots and drops the lease); how many. An expired lease's
    holder stopped renewing it (it died); a live holder renews at 3/4 of its duration. The URL is
    explicit: in another thread Prefect's client would not see this block's settings and would start
    a temporary server of its own, with leases in its memory."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.server.concurrency.lease_storage.filesystem import ConcurrencyLeaseStorage
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if not lease_dir.is_dir():
        return 0
    expired = asyncio.run(ConcurrencyLeaseStorage(lease_dir).read_expired_lease_ids())
    if expired:
        with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
            for lease_id in expired:
                client.release_concurrency_slots_with_lease(lease_id)
    return len(expired)


def _reap_until(stop: threading.Event, lease_dir: Path, api_url: str) -> None:
    while not stop.wait(REAP_EVERY_S):
        try:
            release_expired_leases(lease_dir, api_url)
        except Exception:  # noqa: BLE001 - the server stopping at the end of the block; the next pass, or the next run, frees them
            pass


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

    env = server_env(ui=ui)
    proc, api_url = start_server(env, port, startup_timeout_s)
    stop_reaping = threading.Event()
    try:
        os.environ["PREFECT_API_URL"] = api_url  # for processes this run starts
        try:
            with temporary_settings(updates={PREFECT_API_URL: api_url}):  # Prefect read the env at import
                if env["PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE"] == LEASE_STORAGE:  # not where the user chose another
                    # where that storage puts them: the server's PREFECT_HOME
                    lease_dir = Path(env.get("PREFECT_HOME") or get_current_settings().home).expanduser() / "concurrency_leases"
                    try:
                        release_expired_leases(lease_dir, api_url)  # a run killed mid-write before this one: its slot, now
                    except Exception:  # noqa: BLE001 - a cleanup: the thread tries again
                        pass
                    threading.Thread(target=_reap_until, args=(stop_reaping, lease_dir, api_url),
                                     name="lumina-lease-reaper", daemon=True).start()
                if on_start is not None:
                    on_start()
                yield api_url
        finally:
            stop_reaping.set()
            os.environ.pop("PREFECT_API_URL", None)
    finally:
        stop_server(proc)
