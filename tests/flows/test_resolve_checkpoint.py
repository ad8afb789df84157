"""Checkpoint ids from the catalog: a pruned one says so and names what of its run is still on disk."""

from __future__ import annotations

import pytest

from catalog import Catalog
from flows.steps import resolve_checkpoint


def _catalog_with_checkpoints(tmp_path):
    path = tmp_path / "catalog.duckdb"
    folders = {step: tmp_path / "run" / f"checkpoint-{step:07d}" for step in (10, 20, 30)}
    with Catalog.open(path) as cat:
        run = cat.start_run("train", {})
        ids = {step: cat.register_checkpoint(run, str(folder), {}, step=step) for step, folder in folders.items()}
        cat.finish_run(run)
    for step in (20, 30):  # step 10 was pruned (keep_last 2)
        folders[step].mkdir(parents=True)
    return path, ids, folders


def test_an_id_on_disk_resolves_to_its_folder(tmp_path):
    path, ids, folders = _catalog_with_checkpoints(tmp_path)
    assert resolve_checkpoint(path, ids[30]) == str(folders[30])


def test_a_pruned_id_names_the_checkpoints_of_its_run_still_on_disk(tmp_path):
    path, ids, _ = _catalog_with_checkpoints(tmp_path)
    with pytest.raises(FileNotFoundError) as e:
        resolve_checkpoint(path, ids[10])
    msg = str(e.value)
    assert "no longer on disk" in msg and f"{ids[30]} (step 30), {ids[20]} (step 20)" in msg and ids[10] not in msg.split("still on disk")[1]


def test_an_unknown_id_is_refused(tmp_path):
    path, _, _ = _catalog_with_checkpoints(tmp_path)
    with pytest.raises(FileNotFoundError, match="no checkpoint folder or catalog checkpoint id"):
        resolve_checkpoint(path, "ckpt-unknown")
