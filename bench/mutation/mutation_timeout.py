"""A pytest plugin for the test runs of a mutation run only (bench/mutation/run.py loads it with
`-p mutation_timeout` and passes pytest-timeout a per-test `--timeout` from modules.toml).

A mutant that makes a test loop or wait forever was stopped only by mutmut's own clock,
(tests' time + 1) x 15, or by pyproject's `timeout = 900`, and a loader worker it left busy (it
ignores SIGTERM) held the run's output pipe open after mutmut had finished. Here a test stopped by
pytest-timeout ends the session with exit status 36, which mutmut records as "timeout" (killed,
but told apart from a failed assertion in the report), and the test process leaves no child
process of its own behind when its session ends.
"""

from __future__ import annotations

import pytest

TIMEOUT_EXIT = 36  # mutmut's status_by_exit_code: 36 is "timeout"
_MESSAGE = "from pytest-timeout"  # pytest-timeout's failure: "Timeout (>30.0s) from pytest-timeout."

_timed_out = False


def pytest_sessionstart(session) -> None:
    global _timed_out
    _timed_out = False  # the same process runs several sessions (stats, clean tests, forced fail)


def pytest_runtest_logreport(report) -> None:
    global _timed_out
    if report.failed and _MESSAGE in str(report.longrepr):
        _timed_out = True


def _kill_children() -> None:
    """Loader workers and other processes this test process forked: killed (they may ignore
    SIGTERM), so none lives on reading an endless plan after its mutant's verdict."""
    import multiprocessing

    for p in multiprocessing.active_children():
        p.kill()
        p.join(timeout=5)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus) -> None:
    _kill_children()
    if _timed_out:
        session.exitstatus = TIMEOUT_EXIT
