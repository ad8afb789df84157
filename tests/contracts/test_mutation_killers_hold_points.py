"""contracts/hold_points.py in this process (bench/mutation: the subprocess tests of test_hold_points.py are not
linked to the functions they reach, so mutmut never ran them against hold_point's holding path or hold_forever).
hold_forever, os.kill and time.sleep are stood in for, so nothing here stops pytest."""

from __future__ import annotations

import json
import os
import signal

import pytest

from contracts import hold_points
from contracts.hold_points import HOLD_AT_ENV, HOLD_MARK_ENV, hold_point


@pytest.fixture
def held(monkeypatch):
    """hold_forever recorded instead of stopping this process, with the mark file as it was at that moment;
    the pass counts start afresh."""
    monkeypatch.setattr(hold_points, "_passes", {})
    holds = []

    def fake():
        mark = os.environ.get(HOLD_MARK_ENV)
        holds.append(json.loads(open(mark).read()) if mark and os.path.exists(mark) else None)

    monkeypatch.setattr(hold_points, "hold_forever", fake)
    return holds


@pytest.mark.parametrize("value", [None, ""])
def test_unset_or_empty_it_returns_and_writes_nothing(monkeypatch, tmp_path, held, value):
    if value is None:
        monkeypatch.delenv(HOLD_AT_ENV, raising=False)
    else:
        monkeypatch.setenv(HOLD_AT_ENV, value)
    monkeypatch.setenv(HOLD_MARK_ENV, str(tmp_path / "mark"))
    hold_point("")
    hold_point("test.p")
    assert held == [] and os.listdir(tmp_path) == [] and hold_points._passes == {}


@pytest.mark.parametrize("at,nth", [("test.p", 1), ("test.p:1", 1), ("test.p:3", 3), ("test.p:03", 3)])
def test_it_holds_once_on_the_pass_named_and_the_mark_says_point_pass_pid(monkeypatch, tmp_path, capsys, held, at, nth):
    mark = tmp_path / "mark"
    monkeypatch.setenv(HOLD_AT_ENV, at)
    monkeypatch.setenv(HOLD_MARK_ENV, str(mark))
    for i in range(1, 6):
        hold_point("test.p")
        assert len(held) == (i >= nth)  # only the nth pass holds
        hold_point("test.other")  # another point's passes are counted apart
    assert held == [{"point": "test.p", "pass": nth, "pid": os.getpid()}]
    assert json.loads(mark.read_text()) == held[0] and os.listdir(tmp_path) == ["mark"]  # renamed, no .tmp left
    assert hold_points._passes == {"test.p": 5}
    out, err = capsys.readouterr()
    assert out == "" and err == f"lumina: holding at test.p (pass {nth}, pid {os.getpid()}) for a kill, as LUMINA_HOLD_AT asks\n"


def test_without_a_mark_file_it_holds_and_writes_nothing(monkeypatch, tmp_path, held):
    monkeypatch.setenv(HOLD_AT_ENV, "test.p")
    monkeypatch.delenv(HOLD_MARK_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    hold_point("test.p")
    assert held == [None] and os.listdir(tmp_path) == []


@pytest.mark.parametrize("at", ["test.p:0", "test.p:-1", "test.p:", "test.p:2:x", "test.p:x:2"])
def test_a_pass_that_is_no_whole_number_from_1_is_refused(monkeypatch, held, at):
    """":" alone means the first pass; after the first colon everything is the pass (a point name has none)."""
    monkeypatch.setenv(HOLD_AT_ENV, at)
    if at == "test.p:":
        hold_point("test.p")
        assert len(held) == 1
        return
    with pytest.raises(ValueError, match="after the colon comes which pass holds"):
        hold_point("test.p")
    assert held == []


def test_hold_forever_stops_this_whole_process_with_sigstop(monkeypatch):
    sent = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: sent.append((pid, sig)))
    assert hold_points.hold_forever() is None  # returns when continued
    assert sent == [(os.getpid(), signal.SIGSTOP)]


def test_without_sigstop_hold_forever_sleeps_on_and_on(monkeypatch):
    class Enough(Exception):
        pass

    sent, slept = [], []

    def sleep(s):
        slept.append(s)
        if len(slept) == 3:
            raise Enough

    monkeypatch.delattr(signal, "SIGSTOP")
    monkeypatch.setattr(os, "kill", lambda *a: sent.append(a))
    monkeypatch.setattr(hold_points.time, "sleep", sleep)
    with pytest.raises(Enough):
        hold_points.hold_forever()
    assert sent == [] and len(slept) == 3 and all(isinstance(s, int) and s >= 60 for s in slept)
