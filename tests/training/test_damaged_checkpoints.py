"""A newest checkpoint that lost a file --resume needs is refused before training, through `train`
(the review of 2026-12-05): training.json (the run's settings: a bare --resume trained on with the
library's defaults), config.json (the folder was not listed, so --resume went back to the one
before and wrote over it) and one of an FSDP2 run's shard files (DCP's load failed with
`CheckpointException ranks:dict_keys([0])`, naming nothing)."""

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.training.test_trainer import tiny_cfg
from training.sharded_state import SHARD_FILES, shard_files
from training.state import DamagedCheckpoint, checkpoint_problems
from training.trainer import TrainConfig, train


@pytest.fixture(scope="module")
def two_checkpoints(tiny_home, tmp_path_factory) -> Path:
    """A run folder with checkpoint-0000002 and checkpoint-0000004, trained with settings other than the defaults."""
    out = tmp_path_factory.mktemp("two") / "run"
    train(tiny_cfg(tiny_home, out, steps=4, checkpoint_every=2, keep_last=0, shuffle_buffer=16, batch_size=6, seed=5))
    return out


def _bare_resume(tiny_home, run: Path, **kw) -> TrainConfig:
    """`lumina train --manifest m --out-dir run --resume`: nothing else given."""
    return TrainConfig(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, out_dir=str(run),
                       null_caption=tiny_home.null_caption, resume=True, progress=False, tensorboard=False,
                       given=("catalog", "manifest", "out_dir", "null_caption", "resume", *kw), **kw)


@pytest.mark.parametrize("name", ["training.json", "config.json"])
def test_a_newest_checkpoint_that_lost_a_file_is_refused_with_the_way_to_the_one_before(tiny_home, two_checkpoints,
                                                                                        tmp_path, name):
    run = shutil.copytree(two_checkpoints, tmp_path / "run")
    newest = run / "checkpoint-0000004"
    (newest / name).unlink()
    before = (newest / "model.safetensors").read_bytes()
    with pytest.raises(DamagedCheckpoint) as e:
        train(_bare_resume(tiny_home, run, steps=6))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"--resume: the newest checkpoint, {newest}, is damaged: "
                                              f"{newest / name}: missing; to continue from checkpoint-0000002 "), msg
    assert f"mv {newest} {run / 'damaged-checkpoint-0000004'}" in msg
    assert ("--init-from" in msg) == (name == "training.json")  # the weights load without it
    assert (newest / "model.safetensors").read_bytes() == before  # not gone back to step 2 and retrained over
    assert not (run / "checkpoint-0000006").exists()
    os.rename(newest, run / "damaged-checkpoint-0000004")  # the advice works, and with the run's own settings
    resumed = train(_bare_resume(tiny_home, run, steps=6))
    assert resumed.resumed_from_step == 2 and resumed.steps == 6
    saved = json.loads((run / "checkpoint-0000006" / "training.json").read_text())["train_config"]
    assert (saved["batch_size"], saved["seed"], saved["lr"]) == (6, 5, 3e-3)


def test_a_bare_resume_of_a_checkpoint_without_training_json_is_refused_not_trained_with_defaults(tiny_home, tmp_path):
    """With training.json lost from its only checkpoint, a bare --resume trained on with batch 64, lr 0.001
    and seed 0, without a word; the weights are still good for a new stage."""
    first = train(tiny_cfg(tiny_home, tmp_path / "run", steps=2, batch_size=6, seed=5))
    ckpt = Path(first.checkpoint)
    (ckpt / "training.json").unlink()
    with pytest.raises(DamagedCheckpoint) as e:
        train(_bare_resume(tiny_home, tmp_path / "run", steps=4))
    assert str(e.value) == (
        f"--resume: the newest checkpoint, {ckpt}, is damaged: {ckpt / 'training.json'}: missing; no earlier "
        f"checkpoint of this run is intact: start anew in another --out-dir, or --init-from {ckpt} to keep its weights")
    assert sorted(p.name for p in (tmp_path / "run").glob("checkpoint-*")) == [ckpt.name]


def test_an_fsdp2_checkpoint_lists_its_shard_files_and_one_lost_is_named_before_the_resume(tiny_home, tmp_path):
    first = train(tiny_cfg(tiny_home, tmp_path / "run", steps=2, parallel="fsdp"))
    ckpt = Path(first.checkpoint)
    state = json.loads((ckpt / "train_state.json").read_text())
    assert state[SHARD_FILES] == shard_files(ckpt) and len(state[SHARD_FILES]) == 2  # one file per block, one outside
    assert checkpoint_problems(ckpt) == []
    lost = ckpt / "train_state" / state[SHARD_FILES][-1]
    lost.unlink()
    assert checkpoint_problems(ckpt) == [f"{lost}: missing"]
    with pytest.raises(DamagedCheckpoint) as e:  # was CheckpointException ranks:dict_keys([0]) from DCP's load
        train(tiny_cfg(tiny_home, tmp_path / "run", steps=4, parallel="fsdp", resume=True))
    assert str(e.value).startswith(f"--resume: the newest checkpoint, {ckpt}, is damaged: {lost}: missing; ")
