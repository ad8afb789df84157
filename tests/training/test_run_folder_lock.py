"""One training process per run folder: a second one (a job submitted twice) is refused in one line
naming the holder, before it reads, clears or writes anything there; a killed holder's lock is gone."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.cli import user_errors
from training.state import LOCK_FILE, RunFolderInUse, RunFolderLock, refuse_if_in_use
from training.trainer import check_run_folder, train

from .test_trainer import tiny_cfg

ROOT = Path(__file__).resolve().parents[2]


def _fast_lock(out_dir) -> RunFolderLock:
    lock = RunFolderLock(out_dir)
    lock.RETRY_S = 0.2
    return lock


def test_a_second_lock_on_the_same_folder_is_refused_naming_the_holder_until_the_first_is_released(tmp_path):
    run = tmp_path / "run"
    with RunFolderLock(run):
        with pytest.raises(RunFolderInUse) as refused:
            _fast_lock(run).acquire()
        assert str(refused.value) == (
            f"run folder {run} is in use by another training process (pid {os.getpid()} on host {os.uname().nodename}, "
            f"since {str(refused.value).split('since ')[1].split(')')[0]}); wait for it or choose another --out-dir")
        assert isinstance(refused.value, user_errors())  # lumina train prints it as one line
        with pytest.raises(RunFolderInUse, match="in use by another training process"):
            check_run_folder(run, resume=False, resume_from=None)  # before lumina train records a run
        check_run_folder(run, resume=False, resume_from=None, check_lock=False)  # the holder's own check
    with _fast_lock(run):  # released: the next run takes it
        pass
    refuse_if_in_use(run)


def test_checks_before_a_run_never_refuse_each_other(tmp_path):
    (tmp_path / LOCK_FILE).write_text("")
    import fcntl

    fd = os.open(tmp_path / LOCK_FILE, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # another process's check, at this very moment
        refuse_if_in_use(tmp_path)
    finally:
        os.close(fd)


def test_only_rank_0_checks_before_the_run_so_torchrun_ranks_do_not_refuse_rank_0(tmp_path, monkeypatch):
    with RunFolderLock(tmp_path):  # as rank 0 holds it while a slower rank is still checking
        monkeypatch.setenv("RANK", "1")
        check_run_folder(tmp_path, resume=False, resume_from=None)


def _holder(run: Path, fork_child: bool = False) -> tuple[subprocess.Popen, int | None]:
    """A process that takes the lock (and forks a child, as a DataLoader worker is forked), then sleeps."""
    code = ("import os, sys, time\nfrom training.state import RunFolderLock\nlock = RunFolderLock(sys.argv[1]); lock.acquire()\n"
            "child = os.fork() if sys.argv[2] == '1' else None\n"
            "if child == 0:\n    time.sleep(60); os._exit(0)\n"
            "print(child or 0, flush=True); time.sleep(60)\n")
    p = subprocess.Popen([sys.executable, "-c", code, str(run), "1" if fork_child else "0"], cwd=ROOT, stdout=subprocess.PIPE,
                         text=True)
    child = int(p.stdout.readline())
    return p, child or None


@pytest.mark.parametrize("fork_child", [False, True], ids=["alone", "with-a-forked-child-still-running"])
def test_the_lock_of_a_killed_process_is_gone_so_its_resume_is_not_refused(tmp_path, fork_child):
    p, child = _holder(tmp_path / "run", fork_child)
    try:
        with pytest.raises(RunFolderInUse, match=f"pid {p.pid} "):
            _fast_lock(tmp_path / "run").acquire()
        p.send_signal(signal.SIGKILL)
        p.wait()
        # a forked child (a DataLoader worker noticing its parent's death only seconds later) holds no lock
        with _fast_lock(tmp_path / "run"):
            pass
    finally:
        p.kill()
        if child:
            os.kill(child, signal.SIGKILL)


def test_train_into_a_folder_another_process_trains_in_is_refused_before_it_touches_the_folder(tiny_home, tmp_path):
    run = tmp_path / "run"
    half_written = run / ".checkpoint-0000050-abc"  # the other run's checkpoint being written
    half_written.mkdir(parents=True)
    start = time.monotonic()
    with RunFolderLock(run):
        with pytest.raises(RunFolderInUse, match=f"run folder {run} is in use"):
            train(tiny_cfg(tiny_home, run, steps=2))
    assert half_written.is_dir()  # not cleared as a crashed run's leftover
    assert sorted(p.name for p in run.iterdir()) == [".checkpoint-0000050-abc", LOCK_FILE]
    assert time.monotonic() - start < 30
    r = train(tiny_cfg(tiny_home, run, steps=2))  # free again: a run trains there
    assert r.steps == 2 and (run / "checkpoint-0000002").is_dir()
