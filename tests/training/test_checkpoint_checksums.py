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


def test_init_from_and_evaluate_say_how_to_accept_weights_replaced_on_purpose(two_checkpoints, tmp_path):
    """A deliberate replacement of model.safetensors (fine-tuned elsewhere, converted) was refused as
    damaged with no way past it; --resume stays strict (its state belongs to the weights it recorded)."""
    from training.state import check_weights

    run = shutil.copytree(two_checkpoints, tmp_path / "run")
    newest = run / "checkpoint-0000004"
    _overwrite(newest / "model.safetensors")
    way = f"if you replaced it on purpose, remove its entry under checksums in {newest / STATE_JSON}"
    for flag in ("--init-from", "--checkpoint"):
        with pytest.raises(DamagedCheckpoint) as e:
            check_weights(newest, flag=flag)
        assert "\n" not in str(e.value) and str(e.value).startswith(f"{flag} {newest}: damaged checkpoint") and way in str(e.value)
    with pytest.raises(DamagedCheckpoint) as e:
        latest_resumable(run)
    assert "on purpose" not in str(e.value)
    with pytest.raises(DamagedCheckpoint) as e:  # a file missing: no such advice
        check_weights(newest / "nowhere")
    assert "on purpose" not in str(e.value)
    state = json.loads((newest / STATE_JSON).read_text())
    del state[CHECKSUMS]["model.safetensors"]
    (newest / STATE_JSON).write_text(json.dumps(state))
    check_weights(newest)  # the advice works


def test_an_xxh3_checksum_without_xxhash_is_not_compared(two_checkpoints, tmp_path, monkeypatch):
    """Without the xxhash package, verifying raised ModuleNotFoundError (a traceback): such a checksum
    is now 'not available here', as the docstring says, and new ones are sha256."""
    import sys

    from training import state

    run = shutil.copytree(two_checkpoints, tmp_path / "run")
    newest = run / "checkpoint-0000004"
    assert json.loads((newest / STATE_JSON).read_text())[CHECKSUMS]["model.safetensors"].startswith("xxh3_64:")
    _overwrite(newest / "model.safetensors")
    assert checkpoint_problems(newest, content=True) != []
    monkeypatch.setitem(sys.modules, "xxhash", None)  # import xxhash: ImportError
    monkeypatch.setattr(state, "_DIGESTS", {})  # nothing remembered from the check above
    assert checkpoint_problems(newest, content=True) == []
    assert state._checksum_algorithm() == "sha256"
    assert save_tensors({"w": torch.ones(2)}, tmp_path / "w.safetensors").startswith("sha256:")


@pytest.fixture
def digests(monkeypatch):
    """The paths training.state reads whole to hash them (its remembered digests forgotten)."""
    from training import state

    read, real = [], state.file_digest
    monkeypatch.setattr(state, "_DIGESTS", {})
    monkeypatch.setattr(state, "file_digest", lambda path, algorithm: read.append(Path(path)) or real(path, algorithm))
    return read


def test_only_rank_0_outside_ray_reads_a_checkpoint_whole_and_the_others_hear_its_refusal(two_checkpoints, tmp_path,
                                                                                          digests, monkeypatch):
    """Content verification read the whole checkpoint in every process: each DDP rank, the Ray driver
    and each worker. Rank 0 (the driver, for Ray workers) verifies; the others check headers only."""
    import training.trainer as trainer
    from training.trainer import TrainConfig, verified_once

    run = shutil.copytree(two_checkpoints, tmp_path / "run")
    newest = run / "checkpoint-0000004"
    find = lambda content: latest_resumable(run, content=content)  # noqa: E731
    assert verified_once(find, TrainConfig(), rank=1) == newest and digests == []
    assert verified_once(find, TrainConfig(launched_by="ray"), rank=0) == newest and digests == []
    assert verified_once(find, TrainConfig(), rank=0) == newest and digests != []
    said = "--resume: the newest checkpoint ... is damaged"
    monkeypatch.setattr(trainer, "broadcast", lambda obj: said)  # rank 0 found it damaged
    with pytest.raises(DamagedCheckpoint, match=said):
        verified_once(find, TrainConfig(), rank=1)


def test_a_ray_worker_resumes_without_reading_its_checkpoint_whole(tiny_home, two_checkpoints, tmp_path, digests):
    run = shutil.copytree(two_checkpoints, tmp_path / "run")
    result = train(tiny_cfg(tiny_home, run, steps=5, shuffle_buffer=16, resume=True, launched_by="ray"))
    assert result.resumed_from_step == 4
    assert [p for p in digests if p.parent.name == "checkpoint-0000004"] == []


def test_the_ray_driver_verifies_before_any_worker_starts_and_entry_points_under_torchrun(two_checkpoints, tmp_path,
                                                                                          digests, monkeypatch):
    from contracts import ray_runtime
    from flows.steps import verifies_checkpoints
    from training.ray_launcher import cluster_lost_mid_training, train_with_ray
    from training.trainer import TrainConfig

    run = shutil.copytree(two_checkpoints, tmp_path / "run")
    newest = run / "checkpoint-0000004"
    _overwrite(newest / "train_state.safetensors")
    monkeypatch.setattr(ray_runtime, "ensure_ray", lambda *a, **k: pytest.fail("Ray started for a damaged checkpoint"))
    with pytest.raises(DamagedCheckpoint, match="its content changed"):
        train_with_ray(TrainConfig(out_dir=str(run), resume=True, launcher="ray", workers=2))
    digests.clear()
    lost = cluster_lost_mid_training(TrainConfig(out_dir=str(run)), None, 10.0)  # its line at once: headers only
    assert "checkpoint-0000004 (step 4), is kept" in str(lost) and digests == []
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "test")
    monkeypatch.setenv("RANK", "1")
    assert not verifies_checkpoints()
    monkeypatch.setenv("RANK", "0")
    assert verifies_checkpoints()
