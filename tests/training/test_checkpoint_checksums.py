"""A checkpoint file overwritten in place keeps its size and header: the header check passed it and a
resume from its NaN weights diverged (the walkthrough of 2026-12-05: 4000 bytes of 0xff in the middle of
train_state.safetensors). Each checkpoint records its files' checksums as they are written, and --resume
and --init-from compare them first; a checkpoint written before that has none and still resumes."""

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from tests.training.test_trainer import tiny_cfg
from training.state import (CHECKSUMS, STATE_JSON, DamagedCheckpoint, checkpoint_problems, file_digest, latest_resumable,
                            save_tensors)
from training.trainer import train


@pytest.fixture(scope="module")
def two_checkpoints(tiny_home, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("two") / "run"
    train(tiny_cfg(tiny_home, out, steps=4, checkpoint_every=2, keep_last=0, shuffle_buffer=16))
    return out


def _overwrite(path: Path, n: int = 4000) -> None:
    """n bytes of 0xff in the middle of the file: the same size, the header intact."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(max(size // 2 - n // 2, 0))
        f.write(b"\xff" * min(n, size // 2))
    assert path.stat().st_size == size


def test_save_tensors_writes_what_safetensors_loads_and_hashes_the_bytes_written(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file

    tensors = {"w": torch.randn(3, 5), "step": torch.tensor(4.0), "ids": torch.arange(7), "half": torch.randn(9).bfloat16(),
               "mask": torch.tensor([True, False, True]), "empty": torch.zeros(0, 4), "rng.torch": torch.get_rng_state()}
    digest = save_tensors(tensors, tmp_path / "x.safetensors", metadata={"format": "pt"})
    algorithm = digest.partition(":")[0]
    os.utime(tmp_path / "x.safetensors")  # not the remembered digest: read again
    assert digest == file_digest(tmp_path / "x.safetensors", algorithm)
    back = load_file(tmp_path / "x.safetensors")
    assert back.keys() == tensors.keys()
    for name, t in tensors.items():
        assert back[name].dtype == t.dtype and torch.equal(back[name], t), name
    with safe_open(tmp_path / "x.safetensors", "pt") as f:
        assert f.metadata() == {"format": "pt"}


@pytest.mark.parametrize("async_checkpoint", [False, True])
def test_every_checkpoint_records_the_checksums_of_its_weights_and_state(tiny_home, tmp_path, async_checkpoint):
    result = train(tiny_cfg(tiny_home, tmp_path / "run", steps=2, checkpoint_every=1, keep_last=0,
                            async_checkpoint=async_checkpoint))
    for ckpt in (Path(result.checkpoint).parent / "checkpoint-0000001", Path(result.checkpoint)):
        sums = json.loads((ckpt / STATE_JSON).read_text())[CHECKSUMS]
        assert set(sums) == {"model.safetensors", "train_state.safetensors"}
        for name, recorded in sums.items():
            os.utime(ckpt / name)  # read again, not remembered from the write
            assert file_digest(ckpt / name, recorded.partition(":")[0]) == recorded, name
        assert checkpoint_problems(ckpt, content=True) == []


def test_resume_refuses_a_state_file_overwritten_in_place_naming_it_and_the_way_out(tiny_home, two_checkpoints,
                                                                                     tmp_path, capsys):
    run = shutil.copytree(two_checkpoints, tmp_path / "run")
    newest = run / "checkpoint-0000004"
    damaged = newest / "train_state.safetensors"
    _overwrite(damaged)
    assert checkpoint_problems(newest) == []  # the header check alone passes it
    with pytest.raises(DamagedCheckpoint) as e:
        train(tiny_cfg(tiny_home, run, steps=6, shuffle_buffer=16, resume=True))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"--resume: the newest checkpoint, {newest}, is damaged: {damaged}: its "
                                              "content changed after it was written"), msg
    assert f"to continue from checkpoint-0000002 (the newest intact one" in msg
    assert f"mv {newest} {run / 'damaged-checkpoint-0000004'}" in msg
    assert f"--init-from {newest} starts a new stage" in msg  # its weights are intact
    assert not (run / "checkpoint-0000006").exists()

    from flows.cli import main  # lumina train: the same, one line, exit 2
    from tests.training.test_distributed import own_home

    home = own_home(tiny_home, tmp_path)
    assert main(["train", "--home", str(home), "--manifest", tiny_home.train_manifest, "--null-caption",
                 tiny_home.null_caption, "--resume", "--out-dir", str(run), "--steps", "6"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lumina train: error: --resume: the newest checkpoint") and str(damaged) in err[0]

    os.rename(newest, run / "damaged-checkpoint-0000004")  # the advice works
    resumed = train(tiny_cfg(tiny_home, run, steps=6, shuffle_buffer=16, resume=True))
    assert resumed.resumed_from_step == 2 and resumed.steps == 6


def test_init_from_and_resume_refuse_weights_overwritten_in_place(tiny_home, two_checkpoints, tmp_path):
    run = shutil.copytree(two_checkpoints, tmp_path / "run")
    newest = run / "checkpoint-0000004"
    _overwrite(newest / "model.safetensors")
    with pytest.raises(DamagedCheckpoint, match=f"--init-from {newest}: damaged checkpoint, {newest / 'model.safetensors'}: "
                                                "its content changed after it was written"):
        train(tiny_cfg(tiny_home, tmp_path / "b", steps=2, model_overrides={}, init_from=str(newest)))
    with pytest.raises(DamagedCheckpoint) as e:
        latest_resumable(run)
    assert "model.safetensors: its content changed" in str(e.value) and "--init-from" not in str(e.value)


def test_a_checkpoint_written_without_checksums_still_resumes(tiny_home, two_checkpoints, tmp_path):
    run = shutil.copytree(two_checkpoints, tmp_path / "run")
    for ckpt in run.glob("checkpoint-*"):
        state = json.loads((ckpt / STATE_JSON).read_text())
        del state[CHECKSUMS]
        (ckpt / STATE_JSON).write_text(json.dumps(state))
    assert latest_resumable(run) == run / "checkpoint-0000004"
    resumed = train(tiny_cfg(tiny_home, run, steps=6, shuffle_buffer=16, resume=True))
    assert resumed.resumed_from_step == 4 and resumed.steps == 6
