"""lumina train's --out-dir that is a file, or cannot be created, is refused in one line before a
run is recorded in the catalog."""

from __future__ import annotations

import json


def test_an_out_dir_that_is_a_file_or_cannot_be_made_is_one_line_and_no_failed_run(tiny_home, tmp_path, capsys):
    from catalog import Catalog
    from tests.training.test_distributed import TINY, own_home
    from training.train import main

    home = own_home(tiny_home, tmp_path)
    base = ["--home", str(home), "--manifest", tiny_home.train_manifest, "--null-caption", tiny_home.null_caption,
            "--model-overrides", json.dumps(TINY), "--no-progress", "--no-tensorboard", "--batch-size", "4", "--steps", "1"]
    a_file = tmp_path / "afile"
    a_file.write_text("notes")
    assert main([*base, "--out-dir", str(a_file)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"python -m training.train: error: --out-dir {a_file} is a file, not a folder: give a folder for the run's "
        "checkpoints (it is created if missing)"]
    assert main([*base, "--out-dir", str(a_file / "run")]) == 2  # under a file: mkdir's "Not a directory"
    assert capsys.readouterr().err.strip().splitlines() == [
        f"python -m training.train: error: --out-dir {a_file / 'run'}: the run folder cannot be created (Not a directory)"]
    assert a_file.read_text() == "notes"
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, runs = cat.sql("SELECT status FROM runs WHERE flow_name = 'train'")
    assert runs == []
