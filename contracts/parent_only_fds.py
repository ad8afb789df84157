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


def _close_in_child() -> None:
    for fd in list(_held):
        try:
            os.close(fd)
        except OSError:
            pass
    _held.clear()


os.register_at_fork(after_in_child=_close_in_child)
