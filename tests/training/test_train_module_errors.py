"""`python -m training.train` (and torchrun) says what a user got wrong in one line, as `lumina train`
does: a missing catalog, a refused --resume or a damaged checkpoint printed a traceback."""

from __future__ import annotations


def test_a_user_error_is_one_line_and_exit_2(tmp_path, capsys):
    from training.train import main

    assert main(["--manifest", "nope", "--home", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"python -m training.train: error: no catalog at {tmp_path / 'catalog.duckdb'} (set --catalog or "
                   f"LUMINA_CATALOG, or run a flow first)"]


def test_run_folder_refusals_leave_no_failed_run_in_the_catalog(tiny_home, tmp_path, capsys):
    """--resume of a folder with nothing to resume, and a new run into a folder holding an earlier
    run's checkpoints, were refused only once a run was recorded: each left a 'failed' run."""
    import json

    from catalog import Catalog
    from tests.training.test_distributed import TINY, own_home
    from training.train import main

    home = own_home(tiny_home, tmp_path)
    base = ["--home", str(home), "--manifest", tiny_home.train_manifest, "--null-caption", tiny_home.null_caption,
            "--model-overrides", json.dumps(TINY), "--no-progress", "--no-tensorboard", "--batch-size", "4"]
    assert main([*base, "--out-dir", str(tmp_path / "nope"), "--resume"]) == 2
    assert "--resume: no resumable checkpoint under" in capsys.readouterr().err
    assert main([*base, "--out-dir", str(tmp_path / "run"), "--steps", "1"]) == 0
    capsys.readouterr()
    assert main([*base, "--out-dir", str(tmp_path / "run"), "--steps", "2"]) == 2
    assert "already holds checkpoint-0000001 of an earlier run" in capsys.readouterr().err
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, runs = cat.sql("SELECT status FROM runs WHERE flow_name = 'train'")
    assert runs == [("completed",)]
