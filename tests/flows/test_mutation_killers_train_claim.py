"""flows/train_claim.py, a triggered training's claim on a manifest version, without a flow: where the claim
file is, one holder at a time (a second open of the file in this very process is refused as another flow's
is), what the holder's text says and the second flow's message made of it, a forked child's release, and
where no claim can be taken (training goes on, with a warning). In-process and fast (bench/mutation)."""

from __future__ import annotations

import calendar
import errno
import json
import logging
import os
import socket
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from flows.train_claim import VersionClaim, claim_path, held_elsewhere_message
from tests.descriptors import is_open, open_at

ROOT = Path(__file__).resolve().parents[2]


def test_the_claim_path_is_absolute_from_a_relative_or_home_relative_catalog(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert claim_path("catalog.duckdb", "m@x", 12) == tmp_path / "claims" / "train" / "m_at_x-v12.lock"
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert claim_path("~/ws/team.duckdb", "m", 2) == tmp_path / "user" / "ws" / "claims" / "team.duckdb" / "train" / "m-v2.lock"


def test_one_holder_at_a_time_and_the_next_one_after_its_release(tmp_path):
    path = claim_path(tmp_path / "catalog.duckdb", "m", 1)
    with VersionClaim(path) as first:
        assert first.take()
        second = VersionClaim(path)
        assert not second.take()  # another open of the file: refused as another process's would be
        assert not second.take()  # and again (the refused attempt leaves nothing open or locked)
        second.release()  # releasing a claim never taken does nothing
        fd = first._fd
    assert not is_open(fd)  # the with block released it: its descriptor is closed
    third = VersionClaim(path)
    assert third.take()
    third.release()
    third.release()  # twice is fine


def test_a_refused_take_leaves_no_descriptor_open(tmp_path):
    path = claim_path(tmp_path / "catalog.duckdb", "m", 1)
    first = VersionClaim(path)
    assert first.take()
    try:
        before = set(os.listdir("/proc/self/fd"))
        assert not VersionClaim(path).take()
        assert set(os.listdir("/proc/self/fd")) == before
    finally:
        first.release()


def test_the_holder_text_names_this_process_and_replaces_a_longer_earlier_one(tmp_path):
    path = claim_path(tmp_path / "catalog.duckdb", "m", 1)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"pid": 1, "host": "x" * 500, "since": "long ago", "flow_run": None}) + "\n")  # a dead holder's
    claim = VersionClaim(path)
    started = time.time()
    assert claim.take()
    try:
        said = claim.holder()
        since = calendar.timegm(time.strptime(said.pop("since"), "%Y-%m-%d %H:%M:%S UTC"))
        assert said == {"pid": os.getpid(), "host": socket.gethostname(), "flow_run": None}
        assert started - 2 <= since <= time.time() + 1  # now, in UTC
        assert path.read_text().endswith("}\n") and path.read_text().count("\n") == 1
        assert VersionClaim(path).holder() == claim.holder()  # what a second flow reads
    finally:
        claim.release()


def test_a_holder_text_that_cannot_be_read_is_none(tmp_path):
    claim = VersionClaim(tmp_path / "m-v1.lock")
    assert claim.holder() is None  # no file yet
    for text in ("", '{"pid": 1', "[1, 2]", '"pid"'):  # being written, or not a mapping
        claim.path.write_text(text)
        assert claim.holder() is None, text


def test_the_holder_names_the_prefect_flow_run_it_runs_in(tmp_path, monkeypatch):
    """Prefect's FlowRunContext.get() as a flow run's process sees it (a stand-in module: importing Prefect
    itself takes seconds; the flows' own tests run the real one)."""
    context = types.ModuleType("prefect.context")
    current: list = [types.SimpleNamespace(flow_run=types.SimpleNamespace(name="brave-otter", id="0b7e-11"))]
    context.FlowRunContext = types.SimpleNamespace(get=lambda: current[0])
    monkeypatch.setitem(sys.modules, "prefect.context", context)
    claim = VersionClaim(tmp_path / "m-v1.lock")
    assert claim.take()
    claim.release()
    assert claim.holder()["flow_run"] == "brave-otter (0b7e-11)"
    for current[0] in (None, types.SimpleNamespace(flow_run=None)):  # Prefect loaded, but outside a flow run
        assert claim.take()
        claim.release()
        assert claim.holder()["flow_run"] is None


def test_outside_prefect_the_claim_imports_no_prefect():
    code = ("import json, sys, tempfile\n"
            "from flows.train_claim import VersionClaim\n"
            "claim = VersionClaim(tempfile.mkdtemp() + '/m-v1.lock')\n"
            "assert claim.take()\n"
            "print(json.dumps([claim.holder()['flow_run'], 'prefect' in sys.modules]))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout) == [None, False]


def test_the_second_flows_message_says_who_holds_the_version():
    tail = ": a repeated lumina.manifest.updated event; nothing to train (once_per_version)"
    holder = {"pid": 41, "host": "gpu-3", "since": "2026-12-06 06:00:00 UTC", "flow_run": "brave-otter (0b7e)"}
    assert held_elsewhere_message("m@v2", holder) == (
        "m@v2 is being trained now by another train run (flow run brave-otter (0b7e), pid 41 on gpu-3, "
        "since 2026-12-06 06:00:00 UTC)" + tail)
    assert held_elsewhere_message("m@v2", {**holder, "flow_run": None}) == (
        "m@v2 is being trained now by another train run (pid 41 on gpu-3, since 2026-12-06 06:00:00 UTC)" + tail)
    assert held_elsewhere_message("m@v2", None) == "m@v2 is being trained now by another train run" + tail
    assert held_elsewhere_message("m@v2", {}) == "m@v2 is being trained now by another train run" + tail


def test_a_claim_file_this_user_cannot_write_is_still_claimed_and_its_text_kept(tmp_path, monkeypatch):
    """Another user's claim file on a team's shared workspace: the lock needs no write access; its text stays."""
    path = claim_path(tmp_path / "catalog.duckdb", "m", 1)
    path.parent.mkdir(parents=True)
    theirs = json.dumps({"pid": 7, "host": "other", "since": "then", "flow_run": None}) + "\n"
    path.write_text(theirs)
    real_open, opened = os.open, []

    def as_another_user(file, flags, *args, **kwargs):
        opened.append(flags)
        if Path(file) == path and flags & (os.O_WRONLY | os.O_RDWR):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", as_another_user)
    claim = VersionClaim(path)
    assert claim.take()
    monkeypatch.setattr(os, "open", real_open)
    try:
        assert opened == [os.O_RDWR | os.O_CREAT, os.O_RDONLY]
        assert path.read_text() == theirs
        assert not VersionClaim(path).take()  # held all the same
    finally:
        claim.release()


def test_a_claim_file_is_made_as_the_umask_allows(tmp_path):
    old = os.umask(0o002)  # a team's workspace: group-writable
    try:
        claim = VersionClaim(tmp_path / "claims" / "train" / "m-v1.lock")
        assert claim.take()
        claim.release()
    finally:
        os.umask(old)
    assert claim.path.stat().st_mode & 0o777 == 0o664


def test_a_workspace_where_no_claim_file_can_be_made_warns_and_trains(tmp_path, caplog):
    (tmp_path / "claims").write_text("")  # a file where the claims folder goes
    claim = VersionClaim(claim_path(tmp_path / "catalog.duckdb", "m", 1))
    with caplog.at_level(logging.WARNING, logger="flows.train_claim"):
        assert claim.take()
    claim.release()
    assert [(r.name, r.levelno) for r in caplog.records] == [("flows.train_claim", logging.WARNING)]
    said = caplog.records[0].getMessage()
    assert said.startswith(f"cannot lock {claim.path} (") and "Not a directory" in said, said
    assert said.endswith("): nothing stops a second triggered run from training this manifest version at the same time"), said


def test_where_the_file_system_has_no_locks_the_descriptor_is_closed(tmp_path, monkeypatch, caplog):
    import fcntl

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    before = set(os.listdir("/proc/self/fd"))
    claim = VersionClaim(tmp_path / "m-v1.lock")
    with caplog.at_level(logging.WARNING, logger="flows.train_claim"):
        assert claim.take()
    claim.release()
    assert set(os.listdir("/proc/self/fd")) == before
    assert caplog.records[0].getMessage() == (
        f"cannot lock {claim.path} ([Errno {errno.ENOLCK}] No locks available): nothing stops a second triggered run "
        "from training this manifest version at the same time")


def test_a_forked_child_releasing_its_copy_leaves_the_parents_claim_held(tmp_path):
    """A child forked while the flow holds the claim: its copy was closed at the fork, and the number may be
    the child's own file by now; release() there must neither close that nor unlock the parent's claim."""
    path = claim_path(tmp_path / "catalog.duckdb", "m", 1)
    claim = VersionClaim(path)
    assert claim.take()
    number = claim._fd
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            inherited = is_open(number)
            open_at(tmp_path / "child-file", number)  # the child's own file
            claim.release()
            os.write(write, bytes([inherited, is_open(number)]))
        finally:
            os._exit(0)
    os.close(write)
    try:
        os.waitpid(pid, 0)
        assert list(os.read(read, 8)) == [False, True]  # no copy of the claim's descriptor; its own file still open
        assert not VersionClaim(path).take()  # and the parent still holds the claim
    finally:
        os.close(read)
        claim.release()
    again = VersionClaim(path)
    assert again.take()
    again.release()


def test_a_released_claims_descriptor_number_is_not_closed_in_children_forked_later(tmp_path):
    """Once released, the claim's number is free for any file this process opens next (a shard a DataLoader
    reads); a worker forked after that must keep it."""
    claim = VersionClaim(tmp_path / "m-v1.lock")
    assert claim.take()
    number = claim._fd
    claim.release()
    open_at(tmp_path / "data", number)  # a file this process opens next, under the claim's number
    read, write = os.pipe()
    try:
        pid = os.fork()
        if pid == 0:
            try:
                os.write(write, bytes([is_open(number)]))
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        assert list(os.read(read, 8)) == [True]
    finally:
        for fd in (read, write, number):
            os.close(fd)


def test_since_is_utc_where_the_local_zone_is_not(tmp_path):
    old = os.environ.get("TZ")
    os.environ["TZ"] = "XYZ+5"  # five hours behind UTC, no tzdata needed
    time.tzset()
    try:
        claim = VersionClaim(tmp_path / "m-v1.lock")
        assert claim.take()
        claim.release()
        since = calendar.timegm(time.strptime(claim.holder()["since"], "%Y-%m-%d %H:%M:%S UTC"))
        assert abs(since - time.time()) < 60, claim.holder()
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


def test_release_frees_the_claim_though_a_copy_of_its_descriptor_lives_on(tmp_path):
    """A child forked by C code (no Python at-fork hook runs there) keeps a copy of the descriptor, which
    shares the lock; release() unlocks it explicitly, so the next event trains all the same (a copy made
    with dup here)."""
    path = tmp_path / "m-v1.lock"
    claim = VersionClaim(path)
    assert claim.take()
    copy = os.dup(claim._fd)
    try:
        claim.release()
        again = VersionClaim(path)
        assert again.take()
        again.release()
    finally:
        os.close(copy)


def _pid_of_a_finished_process() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_a_holder_text_naming_a_finished_process_of_this_host_is_none(tmp_path):
    """A holder that could not write the file (another user's) leaves the earlier holder's text: a refused
    flow must not name that run, gone since, as the one training now."""
    claim = VersionClaim(tmp_path / "m-v1.lock")
    here, gone = socket.gethostname(), _pid_of_a_finished_process()
    claim.path.write_text(json.dumps({"pid": gone, "host": here, "since": "s", "flow_run": "old-run"}))
    assert claim.holder() is None
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for live in ({"pid": running.pid, "host": here, "since": "s", "flow_run": "now"},  # a running process
                     {"pid": gone, "host": "another-host", "since": "s", "flow_run": "there"},  # cannot be told: kept
                     {"pid": "12", "host": here, "since": "s", "flow_run": None}):  # no pid to ask about: kept
            claim.path.write_text(json.dumps(live))
            assert claim.holder() == live, live
        assert running.poll() is None  # only asked about (signal 0), never signalled
    finally:
        running.kill()
        running.wait()


def test_a_holder_text_is_kept_where_its_process_cannot_be_asked_about(tmp_path, monkeypatch):
    """Not a process id (a negative number names a process group), or a live process of another user
    (EPERM): the text is kept, as it cannot be told gone."""
    claim = VersionClaim(tmp_path / "m-v1.lock")
    group = {"pid": -999_999, "host": socket.gethostname(), "since": "s", "flow_run": None}  # no such group: kill() says ESRCH
    claim.path.write_text(json.dumps(group))
    assert claim.holder() == group

    def not_permitted(pid, sig):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    theirs = {"pid": _pid_of_a_finished_process(), "host": socket.gethostname(), "since": "s", "flow_run": None}
    claim.path.write_text(json.dumps(theirs))
    monkeypatch.setattr(os, "kill", not_permitted)
    assert claim.holder() == theirs
