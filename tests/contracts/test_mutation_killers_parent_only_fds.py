"""contracts/parent_only_fds.py: a descriptor held here (a run-folder lock's, a train claim's) is closed in
every child this process forks, so a killed parent's flock is free though its DataLoader workers live on;
a released one, and any other, stays open in the child (a worker's own files, a descriptor number that a
released lock's close made free and something else took)."""

from __future__ import annotations

import os

from contracts import parent_only_fds
from tests.descriptors import is_open, open_at


def _open(path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def test_a_forked_child_closes_what_is_held_and_nothing_else(tmp_path):
    read, write = os.pipe()
    held = [_open(tmp_path / "lock-a"), _open(tmp_path / "lock-b")]
    released, other = _open(tmp_path / "lock-c"), _open(tmp_path / "data")
    for fd in (*held, released):
        parent_only_fds.hold(fd)
    parent_only_fds.release(released)
    try:
        pid = os.fork()
        if pid == 0:  # the child: say which of them it still has, and leave at once
            try:
                os.write(write, bytes(is_open(fd) for fd in (*held, released, other)))
            finally:
                os._exit(0)
        os.close(write)
        _, status = os.waitpid(pid, 0)
        seen = os.read(read, 16)
        assert os.waitstatus_to_exitcode(status) == 0
        assert list(seen) == [False, False, True, True]  # the held two closed; the released one and a plain file kept
        assert all(is_open(fd) for fd in (*held, released, other))  # the parent keeps all of them
    finally:
        for fd in held:
            parent_only_fds.release(fd)
        for fd in (*held, released, other, read):
            os.close(fd)


def test_the_after_fork_hook_closes_the_held_and_forgets_them(tmp_path, monkeypatch):
    """The hook a child runs (called here in this process: mutmut links a test to a function only when the
    test's own process calls it). Once closed, the numbers are the child's to reuse: the child's own forks (a
    worker forking in turn) must not close what took them."""
    monkeypatch.setattr(parent_only_fds, "_held", set())
    held = [_open(tmp_path / "lock-a"), _open(tmp_path / "lock-b")]
    for fd in held:
        parent_only_fds.hold(fd)
    parent_only_fds._close_in_child()
    assert not any(is_open(fd) for fd in held)
    reused = held[0]
    open_at(tmp_path / "data", reused)  # the child's own file under a closed number
    try:
        parent_only_fds._close_in_child()  # the child forks again
        assert is_open(reused)
    finally:
        os.close(reused)


def test_a_held_descriptor_closed_already_does_not_stop_the_others_closing(tmp_path, monkeypatch):
    monkeypatch.setattr(parent_only_fds, "_held", set())
    gone, held = _open(tmp_path / "lock-a"), _open(tmp_path / "lock-b")
    parent_only_fds.hold(gone)
    parent_only_fds.hold(held)
    os.close(gone)  # its owner closed it without releasing it
    parent_only_fds._close_in_child()
    assert not is_open(held)


def test_unlock_and_close_frees_the_lock_and_forgets_the_number(tmp_path, monkeypatch):
    """By its owner: the flock is free for another open file at once, the descriptor is closed, and a
    file this process opens next under that number survives a later fork (not closed as if still held).
    In a forked child (another pid): nothing is done, so the child's own file under that number stays."""
    import fcntl

    monkeypatch.setattr(parent_only_fds, "_held", set())
    fd = _open(tmp_path / "lock")
    fcntl.flock(fd, fcntl.LOCK_EX)
    parent_only_fds.hold(fd)
    parent_only_fds.unlock_and_close(fd, os.getpid() + 1)  # not the owner: a forked child's call
    assert is_open(fd) and fd in parent_only_fds._held
    parent_only_fds.unlock_and_close(fd, os.getpid())
    assert not is_open(fd)
    other = _open(tmp_path / "lock")
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: does not raise
    finally:
        os.close(other)
    open_at(tmp_path / "data", fd)  # a file of this process's under the released number
    try:
        parent_only_fds._close_in_child()  # what a later fork does in its child
        assert is_open(fd)
    finally:
        os.close(fd)
