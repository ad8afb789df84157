"""`lumina catalog check` reports what killed training runs left in the run folders the catalog
records (catalog/disk_check.py), read-only: a temporary ``.checkpoint-NNNNNNN-*`` folder (a
checkpoint being written at the kill) and a ``checkpoint-NNNNNNN`` the catalog has no row for (a
kill between publishing and registering, then a plain rerun elsewhere). Each finding names the
path, its size and what to do, and counts as a violation (exit 1). A folder a live training process
holds is not looked at; a folder gone is no finding; a moved workspace is checked where it is now."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from catalog import Catalog
from catalog.cli import main
from catalog.disk_check import LOCK_FILE, TEMPORARY, UNREGISTERED, check_run_folders

REPO = Path(__file__).resolve().parents[2]


def _folder(path: Path, size: int) -> Path:
    path.mkdir(parents=True)
    (path / "model.safetensors").write_bytes(b"\0" * size)
    return path


@pytest.fixture
def workspace(tmp_path) -> Path:
    """A workspace whose train run (folder <home>/runs/<run_id>) registered checkpoint-0000001, was
    killed writing checkpoint 2 (its temporary folder stays) and left checkpoint-0000004 published,
    unregistered."""
    home = tmp_path / "home"
    with Catalog.open(home / "catalog.duckdb") as cat:
        run_id = cat.start_run("train", {"steps": 6, "manifest": "images", "manifest_version": 2},
                               run_id="train-killed")
        run = home / "runs" / run_id
        registered = _folder(run / "checkpoint-0000001", 1000)
        cat.register_checkpoint(run_id, str(registered), {"dim": 8}, step=1)
        cat.finish_run(run_id, status="failed")
    _folder(run / ".checkpoint-0000002-xyz", 5000)
    (run / ".checkpoint-0000002-xyz" / "sub").mkdir()
    (run / ".checkpoint-0000002-xyz" / "sub" / "optimizer.safetensors").write_bytes(b"\0" * 2000)
    _folder(run / "checkpoint-0000004", 3000)
    (run / LOCK_FILE).write_text('{"pid": 1, "host": "h", "since": "then"}\n')  # a dead trainer's: not held
    return home


def _check(capsys, home: Path) -> tuple[int, str]:
    rc = main(["check", "--home", str(home)])
    return rc, capsys.readouterr().out


def test_found_named_sized_with_what_to_do_nothing_deleted(workspace, capsys):
    run = workspace / "runs" / "train-killed"
    with Catalog.open(workspace / "catalog.duckdb", read_only=True) as cat:
        assert not any(cat.check().values())  # the data tests see nothing wrong
        report = check_run_folders(cat)
    assert [(f.check, f.path, f.size) for f in report.findings] == [
        (TEMPORARY, run / ".checkpoint-0000002-xyz", 7000),
        (UNREGISTERED, run / "checkpoint-0000004", 3000)]
    assert report.counts() == {TEMPORARY: 1, UNREGISTERED: 1} and report.in_use == []

    rc, out = _check(capsys, workspace)
    assert rc == 1
    rows = {line.split()[0]: line.split()[-1] for line in out.splitlines() if line.startswith("run_folder_")
            and not line.rstrip().endswith(")")}
    assert rows == {TEMPORARY: "1", UNREGISTERED: "1"}
    assert f"{TEMPORARY}: {run / '.checkpoint-0000002-xyz'} (6.8 KB)" in out
    assert f"do: rm -r {run / '.checkpoint-0000002-xyz'}  " in out
    assert f"{UNREGISTERED}: {run / 'checkpoint-0000004'} (2.9 KB)" in out
    assert f"do: lumina train --home {workspace} --manifest images@v2 --resume --out-dir {run}  " in out
    assert "checkpoint-0000001" not in out  # registered
    assert (run / ".checkpoint-0000002-xyz").is_dir() and (run / "checkpoint-0000004").is_dir()  # read-only


def test_out_dir_parameter_names_the_folder(tmp_path, capsys):
    """A run trained with --out-dir elsewhere: its parameters.out_dir is its folder (no checkpoint row)."""
    home, out = tmp_path / "home", tmp_path / "elsewhere" / "myrun"
    with Catalog.open(home / "catalog.duckdb") as cat:
        cat.finish_run(cat.start_run("train", {"out_dir": str(out)}), status="failed")
    _folder(out / "checkpoint-0000002", 10)
    rc, text = _check(capsys, home)
    assert rc == 1 and f"{UNREGISTERED}: {out / 'checkpoint-0000002'} (10 B)" in text
    assert f"--manifest NAME@vN --resume --out-dir {out}  " in text  # none recorded: the user names it


def test_moved_workspace_is_checked_where_it_is_now(workspace, tmp_path, capsys):
    moved = tmp_path / "moved"
    shutil.move(workspace, moved)  # the catalog still records <old home>/runs/...
    rc, out = _check(capsys, moved)
    run = moved / "runs" / "train-killed"
    assert rc == 1
    assert f"{TEMPORARY}: {run / '.checkpoint-0000002-xyz'} " in out
    assert f"{UNREGISTERED}: {run / 'checkpoint-0000004'} " in out  # its registered neighbour mapped too
    assert "checkpoint-0000001" not in out


def test_gone_or_cleaned_folders_are_no_finding(workspace, capsys):
    run = workspace / "runs" / "train-killed"
    shutil.rmtree(run / ".checkpoint-0000002-xyz")
    shutil.rmtree(run / "checkpoint-0000004")
    rc, out = _check(capsys, workspace)
    assert rc == 0 and "do:" not in out
    assert {line.split()[0]: line.split()[-1] for line in out.splitlines()
            if line.startswith("run_folder_")} == {TEMPORARY: "0", UNREGISTERED: "0"}
    shutil.rmtree(run)
    assert _check(capsys, workspace)[0] == 0


def test_folder_held_by_a_live_trainer_is_not_reported(workspace, capsys):
    run = workspace / "runs" / "train-killed"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from training.state import RunFolderLock; "
         "lock = RunFolderLock(sys.argv[1]); lock.acquire(); print('held', flush=True); sys.stdin.read()", str(run)],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        rc, out = _check(capsys, workspace)
        assert rc == 0 and "do:" not in out and ".checkpoint-0000002-xyz" not in out
        assert f"not looked at: run folder {run} is in use by a live training process" in out
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    rc, out = _check(capsys, workspace)  # its holder gone (the kernel dropped the lock): reported again
    assert rc == 1 and ".checkpoint-0000002-xyz" in out and "in use" not in out


def test_names_match_training():
    """catalog/ may not import training/: disk_check repeats its names; they must stay the same."""
    from catalog import disk_check
    from training import state

    assert disk_check.LOCK_FILE == state.LOCK_FILE
    assert disk_check._CHECKPOINT.match(state.checkpoint_dir("/r", 4).name)
    assert f".{state.checkpoint_dir('/r', 4).name}-abc".startswith(disk_check._TEMPORARY_PREFIX)
