"""A run-folder lock in a forked child (a loader worker, a subprocess forked by C code): the child's
release must not touch the descriptor number the fork closed (the child may have reused it), and the
parent's release frees the folder even while such a child holds a copy of the descriptor."""

from __future__ import annotations

import os

from training.state import RunFolderLock, refuse_if_in_use


def _wait(pid: int) -> int:
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_a_forked_childs_release_leaves_the_file_it_opened_under_that_number_alone(tmp_path):
    lock = RunFolderLock(tmp_path / "run")
    lock.acquire()
    fd = lock._fd
    other = tmp_path / "other.txt"
    other.write_text("x")
    pid = os.fork()
    if pid == 0:  # the child: its copy of the lock was closed at the fork; a file of its own takes that number
        code = 1
        try:
            mine = os.open(other, os.O_RDONLY)
            if mine != fd:  # the lowest free number is often the one the fork closed
                os.dup2(mine, fd)
                os.close(mine)
            lock.release()
            os.fstat(fd)  # still open: the child's release closed nothing of its own
            code = 0
        finally:
            os._exit(code)
    assert _wait(pid) == 0
    assert os.fstat(fd)  # the parent's lock descriptor is untouched
    lock.release()


def test_the_parents_release_frees_the_folder_while_a_child_forked_without_the_hook_holds_a_copy(tmp_path):
    run = tmp_path / "run"
    lock = RunFolderLock(run)
    lock.acquire()
    copy = os.dup(lock._fd)  # what a child forked by C code (no at-fork hook) keeps: a copy of the same open file
    try:
        lock.release()
        refuse_if_in_use(run)  # does not raise: the folder is free for the next run
        again = RunFolderLock(run)
        again.acquire()
        again.release()
    finally:
        os.close(copy)
