"""catalog/disk_check.py beyond test_check_orphans.py (bench/mutation module disk_check): sizes in every unit, links
neither followed nor descended, the manifest a resume command names (from a checkpoint row before a run's
parameters), a workspace given apart from the catalog's folder, a file system without locks (a running run's folder
skipped), folders or entries that vanish or cannot be read between listing and looking, and the counts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from catalog import Catalog, disk_check
from catalog.disk_check import TEMPORARY, UNREGISTERED, check_run_folders, human_size, in_workspace, tree_size


def _folder(path: Path, size: int) -> Path:
    path.mkdir(parents=True)
    (path / "model.safetensors").write_bytes(b"\0" * size)
    return path


def _report(where: Path, **kw):
    with Catalog.open(where / "catalog.duckdb", read_only=True) as cat:
        return check_run_folders(cat, **kw)


def test_human_size_in_each_unit_at_its_bounds():
    assert [human_size(n) for n in (0, 1023, 1024, 1536, 1024 ** 2 - 1)] == ["0 B", "1023 B", "1.0 KB", "1.5 KB", "1024.0 KB"]
    assert [human_size(1024 ** k) for k in (2, 3, 4, 5)] == ["1.0 MB", "1.0 GB", "1.0 TB", "1024.0 TB"]
    assert human_size(5 * 1024 ** 3 // 2) == "2.5 GB"


def test_tree_size_counts_links_as_links(tmp_path):
    big = _folder(tmp_path / "big", 10_000)
    tree = _folder(tmp_path / "t", 100)
    (tree / "sub").mkdir()
    (tree / "sub" / "x").write_bytes(b"\0" * 20)
    os.symlink(big / "model.safetensors", tree / "file-link")
    os.symlink(big, tree / "dir-link")
    links = os.lstat(tree / "file-link").st_size + os.lstat(tree / "dir-link").st_size
    assert tree_size(tree) == 120 + links
    assert tree_size(tmp_path / "nowhere") == 0


def test_in_workspace_is_a_folder_that_exists_its_own_copy_first(tmp_path, monkeypatch):
    home = tmp_path / "home"
    assert in_workspace(tmp_path / "old" / "runs" / "r", home) is None  # gone, no copy
    recorded = _folder(tmp_path / "old" / "runs" / "r", 1)
    assert in_workspace(recorded, home) == recorded
    own = _folder(home / "runs" / "r", 1)
    assert in_workspace(recorded, home) == own
    assert in_workspace(tmp_path / "elsewhere", home) is None  # absolute, not there
    monkeypatch.chdir(tmp_path)
    assert in_workspace("old", home) is None  # relative: not a recorded folder, wherever the command runs


@pytest.fixture
def two_runs(tmp_path) -> Path:
    """Run a (a checkpoint row on images@v3, its run's parameters say other@v1) with two temporary folders and
    an unregistered checkpoint; run b (parameters only, manifest given as "NAME@vN") with one unregistered."""
    home = tmp_path / "home"
    with Catalog.open(home / "catalog.duckdb") as cat:
        a = cat.start_run("train", {"manifest": "other", "manifest_version": 1}, run_id="a")
        cat.register_checkpoint(a, str(_folder(home / "runs" / "a" / "checkpoint-0000001", 10)), {}, None, None, 1)
        cat.sql("UPDATE checkpoints SET manifest = 'images', manifest_version = 3")
        cat.finish_run(a, status="failed")
        cat.finish_run(cat.start_run("train", {"manifest": "digits@v2", "manifest_version": 7}, run_id="b"), "failed")
    _folder(home / "runs" / "a" / ".checkpoint-0000002-x", 1)
    _folder(home / "runs" / "a" / ".checkpoint-0000003-y", 1)
    _folder(home / "runs" / "a" / "checkpoint-0000004", 1)
    _folder(home / "runs" / "b" / "checkpoint-0000005", 1)
    return home.resolve()


def test_each_finding_names_its_run_folder_and_the_manifest_its_checkpoints_record(two_runs):
    report = _report(two_runs)
    a, b = two_runs / "runs" / "a", two_runs / "runs" / "b"
    assert [(f.check, f.path.name, f.run_folder) for f in report.findings] == [
        (TEMPORARY, ".checkpoint-0000002-x", a), (TEMPORARY, ".checkpoint-0000003-y", a),
        (UNREGISTERED, "checkpoint-0000004", a), (UNREGISTERED, "checkpoint-0000005", b)]
    assert report.counts() == {TEMPORARY: 2, UNREGISTERED: 2} and report.folders == 2
    actions = [f.action for f in report.findings if f.check == UNREGISTERED]
    assert f"--manifest images@v3 --resume --out-dir {a}  " in actions[0]  # the checkpoint row's, not the run's
    assert f"--manifest digits@v2 --resume --out-dir {b}  " in actions[1]  # already NAME@vN: kept
    shutil.rmtree(b / "checkpoint-0000005")
    assert _report(two_runs).counts() == {TEMPORARY: 2, UNREGISTERED: 1}


def test_a_run_whose_parameters_name_no_version_is_resumed_by_name(tmp_path):
    home = tmp_path / "home"
    with Catalog.open(home / "catalog.duckdb") as cat:
        cat.finish_run(cat.start_run("train", {"manifest": "images"}, run_id="c"), "failed")
    _folder(home / "runs" / "c" / "checkpoint-0000001", 1)
    [finding] = _report(home).findings
    assert f"--manifest images --resume --out-dir {(home / 'runs' / 'c').resolve()}  " in finding.action


def test_the_workspace_given_is_looked_in_not_the_catalogs_folder(two_runs, tmp_path):
    other = tmp_path / "copy"
    shutil.copytree(two_runs / "runs", other / "runs")
    shutil.rmtree(two_runs / "runs" / "b" / "checkpoint-0000005")
    report = _report(two_runs, home=other)
    assert {f.run_folder for f in report.findings} == {(other / "runs" / "a").resolve(), (other / "runs" / "b").resolve()}
    assert f"lumina train --home {other.resolve()} " in report.findings[-1].action


@pytest.mark.parametrize("status,skipped", [("running", True), ("failed", False)])
def test_without_locks_a_folder_whose_run_is_running_is_skipped(two_runs, monkeypatch, status, skipped):
    """A file system without locks (lock_held None): the catalog's 'running' says a live run writes there."""
    monkeypatch.setattr(disk_check, "lock_held", lambda folder: None)
    with Catalog.open(two_runs / "catalog.duckdb") as cat:
        cat.start_run("train", {}, run_id="a")  # running again
        if status != "running":
            cat.finish_run("a", status=status)
    report = _report(two_runs)
    a = two_runs / "runs" / "a"
    assert report.in_use == ([a] if skipped else [])
    assert {f.run_folder for f in report.findings} == ({two_runs / "runs" / "b"} if skipped else {a, two_runs / "runs" / "b"})
    assert report.folders == (1 if skipped else 2)


def test_a_held_folder_or_one_gone_since_does_not_stop_the_others(two_runs, monkeypatch):
    a, b = two_runs / "runs" / "a", two_runs / "runs" / "b"
    monkeypatch.setattr(disk_check, "lock_held", lambda folder: folder == a)
    report = _report(two_runs)
    assert report.in_use == [a] and [f.run_folder for f in report.findings] == [b] and report.folders == 1
    assert report.counts() == {TEMPORARY: 0, UNREGISTERED: 1}

    def gone(folder):  # deleted between the listing and the look
        if folder == a:
            shutil.rmtree(a)
        return False

    monkeypatch.setattr(disk_check, "lock_held", gone)
    report = _report(two_runs)
    assert report.in_use == [] and [f.run_folder for f in report.findings] == [b] and report.folders == 1


def test_an_entry_that_cannot_be_read_or_a_link_is_passed_over(two_runs, monkeypatch, tmp_path):
    a = two_runs / "runs" / "a"
    elsewhere = _folder(tmp_path / "elsewhere" / "checkpoint-0000009", 1)
    os.symlink(elsewhere, a / "checkpoint-0000009")  # a link, not a folder of the run: not followed
    os.symlink(elsewhere, a / ".checkpoint-0000008-z")

    class Unreadable:
        name, path = ".a-first", str(a / ".a-first")

        def is_dir(self, follow_symlinks=True):
            raise OSError("vanished")

    class Listing(list):  # what os.scandir returns is also a context manager (tree_size uses it so)
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    real = os.scandir

    def scandir(path):
        with real(path) as it:
            return Listing([*it, Unreadable()] if Path(path) == a else it)

    monkeypatch.setattr(os, "scandir", scandir)
    report = _report(two_runs)
    assert [f.path.name for f in report.findings if f.run_folder == a] == [
        ".checkpoint-0000002-x", ".checkpoint-0000003-y", "checkpoint-0000004"]
