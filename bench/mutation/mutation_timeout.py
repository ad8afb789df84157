"""A pytest plugin for the test runs of a mutation run only (bench/mutation/run.py loads it with
`-p mutation_timeout` and passes pytest-timeout a per-test `--timeout` from modules.toml).

A test that pytest-timeout stops ends the session with exit status 36, which mutmut records as
"timeout" (killed, but told apart from a failed assertion in the report); before, only mutmut's
own clock, (the tests' clean time + 1) x 15 s, or pyproject's `timeout = 900` ended it.

And the test process leaves no child behind. A loader worker ignores SIGTERM; when a mutant left
one running, torch's SIGCHLD check (or anything else) could raise out of pytest.main, mutmut's
forked child then went on to exit through the interpreter, and multiprocessing's exit handler
sent the worker SIGTERM and waited for it without a limit, until mutmut's clock: the
ClosingWorkers mutants of 6 Dec 2026 (114 s each here; 15 min and more on the 11:34 rerun).
"""

from __future__ import annotations

import atexit
import signal

import pytest

TIMEOUT_EXIT = 36  # mutmut's status_by_exit_code: 36 is "timeout"
_MESSAGE = "from pytest-timeout"  # pytest-timeout's failure: "Timeout (>30.0s) from pytest-timeout."

_timed_out = False
_sigchld = None  # the SIGCHLD handler before the session (torch's DataLoader installs its own check)


_registered = False


def pytest_configure(config) -> None:
    # runs before multiprocessing's own exit handler (registered earlier, atexit runs the last
    # first), which sends SIGTERM to daemonic children and waits for each without a limit; a
    # mutant's forked child inherits the registration
    global _registered
    if not _registered:
        _registered = True
        atexit.register(_kill_children)


def pytest_sessionstart(session) -> None:
    global _timed_out, _sigchld
    _timed_out = False  # the same process runs several sessions (stats, clean tests, forced fail)
    _sigchld = signal.getsignal(signal.SIGCHLD)


def pytest_runtest_logreport(report) -> None:
    global _timed_out
    if report.failed and _MESSAGE in str(report.longrepr):
        _timed_out = True


def _kill_children() -> None:
    """Loader workers and other processes this test process forked: killed (they ignore SIGTERM),
    so none lives on reading an endless plan after its mutant's verdict. Never raises."""
    try:
        import multiprocessing

        for p in multiprocessing.active_children():
            p.kill()
        for p in multiprocessing.active_children():
            p.join(timeout=5)
    except BaseException:  # noqa: BLE001 - a verdict must not turn into an exception out of pytest
        pass


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus) -> None:
    try:
        # torch's SIGCHLD check raises in whatever runs when it sees a worker killed (here, below):
        # out of pytest.main, that left mutmut's forked child to exit through the interpreter
        signal.signal(signal.SIGCHLD, _sigchld if _sigchld is not None else signal.SIG_DFL)
    except (ValueError, TypeError):  # not the main thread, or a handler set outside Python
        pass
    _kill_children()
    if _timed_out:
        session.exitstatus = TIMEOUT_EXIT
