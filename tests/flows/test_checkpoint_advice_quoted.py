"""Commands our messages tell the user to run quote a path with a space or a non-ASCII letter (a run
folder "my runs/été" printed bare split into two words when pasted; helper R, session 53), and
--init-from given a checkpoint's model.safetensors names the folder that holds it."""

from __future__ import annotations

import shlex

import pytest

from catalog import Catalog
from catalog.disk_check import TEMPORARY, UNREGISTERED, check_run_folders
from flows.steps import resolve_checkpoint


def test_a_checkpoint_file_is_told_to_give_its_folder(tmp_path):
    folder = tmp_path / "my runs" / "checkpoint-0000060"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"\0" * 8)
    with pytest.raises(FileNotFoundError) as e:
        resolve_checkpoint(tmp_path / "catalog.duckdb", str(folder / "model.safetensors"), "--init-from")
    said = str(e.value)
    assert "is a file: give the checkpoint folder that holds it" in said
    assert shlex.split(said.rsplit("holds it, ", 1)[1]) == [str(folder)]  # one word when pasted


def test_disk_check_actions_paste_as_one_word_per_path(tmp_path):
    home = tmp_path / "my home été"
    run = home / "runs" / "a b"
    with Catalog.open(home / "catalog.duckdb") as cat:
        cat.finish_run(cat.start_run("train", {"manifest": "digits", "manifest_version": 1}, run_id="a b"), "failed")
    for name in ("checkpoint-0000004", ".checkpoint-0000005-x"):
        (run / name).mkdir(parents=True)
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        report = check_run_folders(cat)
    actions = {f.check: f.action for f in report.findings}
    assert shlex.split(actions[TEMPORARY].split("  (")[0]) == ["rm", "-r", str((run / ".checkpoint-0000005-x").resolve())]
    words = shlex.split(actions[UNREGISTERED].split("  (")[0])
    assert words[words.index("--home") + 1] == str(home.resolve())
    assert words[words.index("--out-dir") + 1] == str(run.resolve())
