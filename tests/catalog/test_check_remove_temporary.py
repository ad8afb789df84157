"""`lumina catalog check --remove-temporary` deletes the temporary ``.checkpoint-NNNNNNN-*`` folders
killed training runs left (catalog/disk_check.py remove_temporary), and nothing else: a published
checkpoint, registered or not, stays; a run folder a training process took since the check is left
alone; a folder that vanished meanwhile (a resume's own clean-up) is no error."""

from __future__ import annotations

import fcntl
import os
import shutil

from catalog import Catalog
from catalog.cli import main
from catalog.disk_check import LOCK_FILE, TEMPORARY, UNREGISTERED, check_run_folders, remove_temporary
from tests.catalog.test_check_orphans import workspace  # noqa: F401 - the killed run's workspace fixture


def test_the_flag_deletes_the_temporary_folder_only_and_says_what_it_freed(workspace, capsys):  # noqa: F811
    run = workspace / "runs" / "train-killed"
    rc = main(["check", "--home", str(workspace), "--remove-temporary"])
    out = capsys.readouterr().out
    assert not (run / ".checkpoint-0000002-xyz").exists()
    assert (run / "checkpoint-0000004").is_dir() and (run / "checkpoint-0000001").is_dir()  # published: kept
    assert f"removed: {run / '.checkpoint-0000002-xyz'} (6.8 KB)" in out
    assert "freed 6.8 KB in 1 temporary checkpoint folder(s)" in out
    rows = {line.split()[0]: line.split()[-1] for line in out.splitlines() if line.startswith("run_folder_")
            and not line.rstrip().endswith(")")}
    assert rows == {TEMPORARY: "0", UNREGISTERED: "1"}  # what is left: the unregistered checkpoint
    assert rc == 1 and f"{UNREGISTERED}: {run / 'checkpoint-0000004'}" in out

    shutil.rmtree(run / "checkpoint-0000004")
    assert main(["check", "--home", str(workspace), "--remove-temporary"]) == 0  # nothing left: exit 0
    assert "removed:" not in capsys.readouterr().out


def test_without_the_flag_nothing_is_deleted(workspace, capsys):  # noqa: F811
    assert main(["check", "--home", str(workspace)]) == 1
    assert (workspace / "runs" / "train-killed" / ".checkpoint-0000002-xyz").is_dir()
    assert "removed:" not in capsys.readouterr().out


def test_a_run_folder_taken_by_a_trainer_since_the_check_is_left_alone(workspace):  # noqa: F811
    run = workspace / "runs" / "train-killed"
    with Catalog.open(workspace / "catalog.duckdb", read_only=True) as cat:
        report = check_run_folders(cat)
    fd = os.open(run / LOCK_FILE, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a trainer resuming the folder holds it now
        removed, left = remove_temporary(report)
    finally:
        os.close(fd)
    assert removed == [] and [(f.path, why.split(" (")[0]) for f, why in left] == [
        (run / ".checkpoint-0000002-xyz", "a training process holds its run folder now")]
    assert (run / ".checkpoint-0000002-xyz").is_dir()


def test_a_folder_gone_meanwhile_counts_as_removed(workspace):  # noqa: F811
    run = workspace / "runs" / "train-killed"
    with Catalog.open(workspace / "catalog.duckdb", read_only=True) as cat:
        report = check_run_folders(cat)
    shutil.rmtree(run / ".checkpoint-0000002-xyz")  # a resume cleared it between the check and the removal
    removed, left = remove_temporary(report)
    assert [f.path for f in removed] == [run / ".checkpoint-0000002-xyz"] and left == []
