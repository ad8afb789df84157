"""Checkpoint ids from the catalog: a pruned one says so and names what of its folder is still on
disk, a resumed run's checkpoints (another catalog run, the same folder) included."""

from __future__ import annotations

import pytest

from catalog import Catalog
from flows.steps import resolve_checkpoint


def _catalog_with_checkpoints(tmp_path):
    path = tmp_path / "catalog.duckdb"
    folders = {step: tmp_path / "run" / f"checkpoint-{step:07d}" for step in (10, 20, 30)}
    with Catalog.open(path) as cat:
        run = cat.start_run("train", {})
        ids = {step: cat.register_checkpoint(run, str(folder), {}, step=step) for step, folder in folders.items() if step < 30}
        cat.finish_run(run)
        resumed = cat.start_run("train", {})  # --resume: a catalog run of its own, the same folder
        ids[30] = cat.register_checkpoint(resumed, str(folders[30]), {}, step=30)
        cat.finish_run(resumed)
        other = cat.start_run("train", {})  # another run's folder is not listed
        ids[99] = cat.register_checkpoint(other, str(tmp_path / "other" / "checkpoint-0000099"), {}, step=99)
        cat.finish_run(other)
    (tmp_path / "other" / "checkpoint-0000099").mkdir(parents=True)
    for step in (20, 30):  # step 10 was pruned (keep_last 2)
        folders[step].mkdir(parents=True)
    return path, ids, folders


def test_an_id_on_disk_resolves_to_its_folder(tmp_path):
    path, ids, folders = _catalog_with_checkpoints(tmp_path)
    assert resolve_checkpoint(path, ids[30]) == str(folders[30])


def test_a_pruned_id_names_the_checkpoints_of_its_folder_still_on_disk(tmp_path):
    path, ids, _ = _catalog_with_checkpoints(tmp_path)
    with pytest.raises(FileNotFoundError) as e:
        resolve_checkpoint(path, ids[10])
    msg = str(e.value)
    listed = msg.split("still on disk")[1]
    assert "no longer on disk" in msg and listed == f": {ids[30]} (step 30), {ids[20]} (step 20)", msg


def test_an_unknown_id_is_refused(tmp_path):
    path, _, _ = _catalog_with_checkpoints(tmp_path)
    with pytest.raises(FileNotFoundError, match="no checkpoint folder or catalog checkpoint id"):
        resolve_checkpoint(path, "ckpt-unknown")
