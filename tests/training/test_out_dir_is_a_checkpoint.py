"""--out-dir naming a checkpoint folder (run/checkpoint-0000040: the folder a user has at hand) is
refused in one line that gives the run folder. Before, a new run trained into it (its checkpoint-N
folders, metrics.csv and catalog rows inside the other run's checkpoint, deleted with it once that
run's keep_last pruned it), and `--resume --out-dir run/checkpoint-0000040` said "--manifest is
required" (with --manifest: "no resumable checkpoint under ...")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from training.resume_config import manifest_of_run_folder
from training.trainer import check_run_folder

REPO = Path(__file__).resolve().parents[2]


def _checkpoint(run: Path) -> Path:
    ckpt = run / "checkpoint-0000040"
    ckpt.mkdir(parents=True)
    (ckpt / "training.json").write_text(json.dumps({"train_config": {"manifest": "digits@v1"}}))
    (ckpt / "train_state.json").write_text(json.dumps({"step": 40}))
    return ckpt


def test_a_checkpoint_folder_is_refused_naming_its_run_folder(tmp_path):
    ckpt = _checkpoint(tmp_path / "run")
    said = (f"--out-dir {ckpt} holds a checkpoint's training.json: it is a checkpoint, not a run folder (a run writes "
            "its checkpoint-N folders inside its run folder, whose keep_last deletes the older ones with all they hold); "
            f"--resume --out-dir {tmp_path / 'run'} continues the run it belongs to, --init-from {ckpt} starts a new "
            "stage from it, and a new run needs a folder of its own")
    for resume in (False, True):
        with pytest.raises(ValueError) as e:
            check_run_folder(ckpt, resume, None, check_lock=False)
        assert str(e.value) == said
    with pytest.raises(ValueError) as e:  # --resume --out-dir CKPT without --manifest asks this first
        manifest_of_run_folder(ckpt)
    assert str(e.value) == said
    assert manifest_of_run_folder(tmp_path / "run") == "digits"  # the run folder itself: its manifest


def test_a_new_folder_named_as_a_checkpoint_is_refused_and_not_left_behind(tmp_path, tiny_home):
    from flows.steps import train_step
    from training.config import TrainConfig

    run = _checkpoint(tmp_path / "run").parent
    made = run / "checkpoint-0000999"
    said = r"is named as a checkpoint of run folder .*: give the run folder a name of its own$"
    with pytest.raises(ValueError, match=said):
        check_run_folder(made, False, None, check_lock=False)
    with pytest.raises(ValueError, match=said):  # lumina train: refused before it makes the folder
        train_step(str(tiny_home.home), TrainConfig(manifest=tiny_home.train_manifest, out_dir=str(made), steps=1))
    assert not made.exists()  # else the run's --resume would take it for its newest checkpoint


def test_lumina_train_says_it_in_one_line_exit_2(tmp_path):
    ckpt = _checkpoint(tmp_path / "run")
    env = {k: v for k, v in os.environ.items() if k not in ("LUMINA_CATALOG", "LUMINA_TRACEBACK")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-m", "flows.cli", "train", "--home", str(tmp_path / "home"), "--resume",
                           "--out-dir", str(ckpt)], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"lumina train: error: --out-dir {ckpt} holds a checkpoint's"), done.stderr


def test_resume_into_a_folder_without_checkpoints_says_how_to_start(tmp_path):
    """It said only "--resume: no resumable checkpoint under D"."""
    for folder, why in ((tmp_path / "none", "no such folder"), (tmp_path, "it holds no checkpoint-N folder")):
        with pytest.raises(FileNotFoundError) as e:
            check_run_folder(folder, True, None, check_lock=False)
        assert str(e.value) == (f"--resume: no resumable checkpoint under {folder} ({why}): leave out --resume to start a run "
                                "there, or give the --out-dir of the run to continue")
