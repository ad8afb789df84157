"""contracts/hold_points.py: a fault test's hold point returns at once unless LUMINA_HOLD_AT names it;
named, it writes its mark and the process stops there until it is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from contracts.hold_points import HOLD_AT_ENV, HOLD_MARK_ENV, hold_point, read_mark

REPO = Path(__file__).resolve().parents[2]


def test_unset_it_returns_at_once_and_writes_nothing(monkeypatch, tmp_path):
    monkeypatch.delenv(HOLD_AT_ENV, raising=False)
    monkeypatch.setenv(HOLD_MARK_ENV, str(tmp_path / "mark"))
    t = time.perf_counter()
    for _ in range(100_000):
        hold_point("test.unset-point")
    assert time.perf_counter() - t < 2.0  # one environment lookup each (~0.3 us here)
    assert not (tmp_path / "mark").exists()


def test_naming_another_point_it_returns(monkeypatch, tmp_path):
    monkeypatch.setenv(HOLD_AT_ENV, "test.another-point")
    monkeypatch.setenv(HOLD_MARK_ENV, str(tmp_path / "mark"))
    hold_point("test.this-point")
    hold_point("test.another-point-but-longer")
    assert not (tmp_path / "mark").exists()


def test_a_pass_that_is_no_number_is_refused(monkeypatch):
    monkeypatch.setenv(HOLD_AT_ENV, "test.bad-pass:second")
    with pytest.raises(ValueError, match=r"LUMINA_HOLD_AT='test.bad-pass:second': after the colon comes which pass holds"):
        hold_point("test.bad-pass")


def _held(script: str, mark: Path, at: str) -> subprocess.Popen:
    env = {**os.environ, HOLD_AT_ENV: at, HOLD_MARK_ENV: str(mark), "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_mark(proc: subprocess.Popen, mark: Path) -> dict:
    until = time.monotonic() + 30
    while read_mark(mark) is None:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < until, "no mark within 30 s"
        time.sleep(0.01)
    return read_mark(mark)


@pytest.mark.parametrize("at,passes", [("test.point", 1), ("test.point:3", 3)])
def test_naming_this_point_it_writes_the_mark_and_stops_until_killed(tmp_path, at, passes):
    """The mark says which point, which pass and which process; the whole process is stopped there
    (a thread beside it does not go on counting), still alive a moment later, and dies when killed."""
    mark = tmp_path / "mark"
    ticks = tmp_path / "ticks"
    script = ("import threading, time\n"
              "from contracts.hold_points import hold_point\n"
              "def tick():\n"
              f"    with open({str(ticks)!r}, 'w') as f:\n"
              "        while True:\n"
              "            f.write('.'); f.flush(); time.sleep(0.001)\n"
              "threading.Thread(target=tick, daemon=True).start()\n"
              "time.sleep(0.05)\n"
              "for i in range(5):\n"
              "    print('pass', i + 1, flush=True)\n"
              "    hold_point('test.point')\n"
              "print('after', flush=True)\n")
    proc = _held(script, mark, at)
    try:
        info = _wait_for_mark(proc, mark)
        assert info == {"point": "test.point", "pass": passes, "pid": proc.pid}
        time.sleep(0.1)
        ticked = ticks.stat().st_size
        time.sleep(0.2)
        assert proc.poll() is None
        assert psutil.Process(proc.pid).status() == psutil.STATUS_STOPPED
        assert ticked > 0 and ticks.stat().st_size == ticked  # the other thread stopped too
        assert not list(tmp_path.glob("*.tmp"))  # written atomically: the temporary file renamed
    finally:
        proc.kill()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert out.split("\n")[-2] == f"pass {passes}" and "after" not in out  # it went no further
    assert f"lumina: holding at test.point (pass {passes}, pid {proc.pid}) for a kill, as LUMINA_HOLD_AT asks" in err


def test_continued_it_goes_on(tmp_path):
    mark = tmp_path / "mark"
    proc = _held("from contracts.hold_points import hold_point\nhold_point('test.point')\nprint('after')\n", mark, "test.point")
    try:
        _wait_for_mark(proc, mark)
        until = time.monotonic() + 10
        while psutil.Process(proc.pid).status() != psutil.STATUS_STOPPED and time.monotonic() < until:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGCONT)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0 and out == "after\n"
