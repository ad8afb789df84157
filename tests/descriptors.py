"""File descriptors in tests of locks that forked children must not keep (contracts/parent_only_fds):
whether a number is open, and a file put under a chosen number."""

from __future__ import annotations

import os


def is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def open_at(path, number: int) -> None:
    """A file opened under descriptor ``number`` (free or not): the lowest free number may be another."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    if fd != number:
        os.dup2(fd, number)
        os.close(fd)
