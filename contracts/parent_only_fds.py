"""File descriptors that belong to this process alone, closed in every child it forks.

A flock is held by an open file description, which a fork shares: a forked child (a DataLoader
worker) that kept its parent's descriptor kept the lock after a SIGKILL of the parent, until the
child ended. Run-folder locks (training/state.py) and train claims (flows/train_claim.py) register
their descriptor here while they hold it."""

from __future__ import annotations

import os

_held: set[int] = set()


def hold(fd: int) -> None:
    """``fd`` is this process's: a forked child closes it at once."""
    _held.add(fd)


def release(fd: int) -> None:
    """``fd`` is no longer held (its owner closes it)."""
    _held.discard(fd)


def unlock_and_close(fd: int, owner_pid: int | None) -> None:
    """Drop the flock held on ``fd``, which process ``owner_pid`` took and registered here, and close it.
    In a forked child nothing is done: the fork closed the child's copy, and the number may be another
    file of the child's now. The lock is dropped (LOCK_UN) before the close, so a copy a child forked
    without the at-fork hook (by C code) keeps does not go on holding it."""
    if owner_pid != os.getpid():
        return
    import fcntl

    release(fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError:
        pass
    os.close(fd)


def _close_in_child() -> None:
    for fd in list(_held):
        try:
            os.close(fd)
        except OSError:
            pass
    _held.clear()


os.register_at_fork(after_in_child=_close_in_child)
