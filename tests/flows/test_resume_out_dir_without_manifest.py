"""`lumina train --resume --out-dir RUN` without --manifest: the run folder's checkpoints record the
manifest it trained on, so the command takes it from there (it was refused, "--manifest is
required", and `lumina catalog check` prints this very command for an unregistered checkpoint)."""

import json
import shutil

import pytest

from tests.training.test_trainer import tiny_cfg
from training.trainer import train


@pytest.fixture
def home_and_run(tiny_home, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(tiny_home.catalog, home / "catalog.duckdb")
    out = tmp_path / "run"
    train(tiny_cfg(tiny_home, out, catalog=str(home / "catalog.duckdb"), steps=4, checkpoint_every=2, keep_last=0,
                   shuffle_buffer=16))
    return home, out


def test_resume_of_a_run_folder_takes_its_manifest_from_its_checkpoints(tiny_home, home_and_run, capsys):
    from flows.cli import main

    home, out = home_and_run
    rc = main(["train", "--home", str(home), "--null-caption", tiny_home.null_caption, "--resume", "--out-dir", str(out),
               "--steps", "6", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert rc == 0 and result["resumed_from_step"] == 4 and result["steps"] == 6
    assert (out / "checkpoint-0000006").is_dir()


def test_without_a_checkpoint_to_read_it_from_manifest_is_still_required(tmp_path, capsys):
    from flows.cli import main

    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as e:
        main(["train", "--home", str(tmp_path), "--resume", "--out-dir", str(tmp_path / "empty")])
    assert e.value.code == 2
    assert "--manifest is required" in capsys.readouterr().err


def test_the_newest_checkpoint_that_records_one_names_it(tmp_path):
    from training.resume_config import manifest_of_run_folder

    for step, manifest in ((2, "old@v1"), (4, "digits@v3"), (6, None)):  # 6: written without its training.json
        ckpt = tmp_path / f"checkpoint-{step:07d}"
        ckpt.mkdir()
        if manifest:
            (ckpt / "training.json").write_text(json.dumps({"train_config": {"manifest": manifest}}))
    (tmp_path / ".checkpoint-0000008-tmp").mkdir()
    assert manifest_of_run_folder(tmp_path) == "digits"
    assert manifest_of_run_folder(tmp_path / "nowhere") is None
