"""An FSDP2 checkpoint records the checksums of the files it writes, as a whole-tensor one does: each
rank hashes its shard files once written (sharded_state.shard_record gathers them on rank 0), and
model.safetensors is hashed read back. A shard file overwritten in place keeps its size and header, so
before this only the header check ran and such a file was resumed from. Now --resume refuses it in
one line naming the file and the way out; an untouched checkpoint resumes."""

from __future__ import annotations

import copy
import json
import os
import shutil
import threading
from pathlib import Path

import pytest
import torch

from tests.training.test_mutation_killers_sharded_state import _setup, _steps
from tests.training.test_trainer import tiny_cfg
from training.sharded_state import (SHARD_FILES, SHARDED_DIR, load_sharded, publish_weights, save_sharded,
                                    shard_record)
from training.state import (CHECKSUMS, STATE_JSON, WEIGHTS, DamagedCheckpoint, check_weights, checkpoint_problems,
                            file_digest, latest_resumable)
from training.trainer import train


def _overwrite(path: Path, n: int = 64) -> None:
    """n bytes of 0xff in the middle of the file: the same size, the header intact."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(size - n - 8)  # the data, past the header
        f.write(b"\xff" * n)
    assert path.stat().st_size == size


def _assert_recorded(ckpt: Path, record: dict) -> None:
    """Every shard file and model.safetensors has a checksum, and it is the file's content read again."""
    sums = record[CHECKSUMS]
    assert set(sums) == {WEIGHTS} | {f"{SHARDED_DIR}/{n}" for n in record[SHARD_FILES]}, sums
    assert len(record[SHARD_FILES]) >= 2
    for name, recorded in sums.items():
        os.utime(ckpt / name)  # read again, not remembered from the write
        assert file_digest(ckpt / name, recorded.partition(":")[0]) == recorded, name
    assert not list((ckpt / SHARDED_DIR).glob("*.json"))  # the ranks' checksum files are gathered and gone


@pytest.fixture
def run(tmp_path):
    """A run folder of two sharded checkpoints (steps 1 and 2), in one process on a plain model, with
    the train_state.json entries the trainer writes (`shard_record`)."""
    model, ema, opt = _setup(0)
    torch.manual_seed(11)
    out = tmp_path / "run"
    saved = {}
    for step in (1, 2):
        _steps(model, ema, opt, 1)
        ckpt = out / f"checkpoint-{step:07d}"
        ckpt.mkdir(parents=True)
        groups = save_sharded(ckpt, model, opt, ema)
        publish_weights(ckpt, list(ema.state_dict()))
        for name in ("config.json", "training.json"):
            (ckpt / name).write_text("{}")
        record = shard_record(ckpt)
        (ckpt / STATE_JSON).write_text(json.dumps({"step": step, "sharded": True, "param_groups": groups, **record}))
        saved[step] = (record, copy.deepcopy(model.state_dict()))
    return out, saved


def test_a_sharded_checkpoint_records_every_files_checksum_as_written(run):
    out, saved = run
    for step, (record, _) in saved.items():
        ckpt = out / f"checkpoint-{step:07d}"
        _assert_recorded(ckpt, record)
        assert checkpoint_problems(ckpt, content=True) == []


def test_the_background_writer_records_checksums_too(tmp_path):
    """async_save's writer (niced, in a thread of its own) hashes its files too."""
    import torch.distributed.checkpoint as dcp

    from training.sharded_state import _state, _writer

    model, ema, opt = _setup(0)
    _steps(model, ema, opt, 1)
    save_sharded(tmp_path / "sync", model, opt, ema)

    def background():
        state, _ = _state(model, opt, ema)
        dcp.save(state, storage_writer=_writer(tmp_path / "async", state, background=True))

    t = threading.Thread(target=background)
    t.start()
    t.join()
    sync, background_ = shard_record(tmp_path / "sync"), shard_record(tmp_path / "async")
    # the same files, each with its checksum (not the same bytes: safetensors writes the header's
    # metadata table in no fixed order)
    assert background_[SHARD_FILES] == sync[SHARD_FILES]
    assert set(background_[CHECKSUMS]) == set(sync[CHECKSUMS]) == {f"{SHARDED_DIR}/{n}" for n in sync[SHARD_FILES]}
    for name, recorded in background_[CHECKSUMS].items():
        os.utime(tmp_path / "async" / name)  # read again, not remembered from the write
        assert file_digest(tmp_path / "async" / name, recorded.partition(":")[0]) == recorded, name


def test_resume_refuses_a_shard_file_overwritten_in_place_naming_it_and_the_way_out(run):
    out, saved = run
    newest = out / "checkpoint-0000002"
    damaged = newest / SHARDED_DIR / saved[2][0][SHARD_FILES][1]
    _overwrite(damaged)
    assert checkpoint_problems(newest) == []  # the header check alone passes it
    with pytest.raises(DamagedCheckpoint) as e:
        latest_resumable(out)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"--resume: the newest checkpoint, {newest}, is damaged: {damaged}: its "
                                              "content changed after it was written"), msg
    assert "to continue from checkpoint-0000001 (the newest intact one" in msg
    assert f"mv {newest} {out / 'damaged-checkpoint-0000002'}" in msg
    assert latest_resumable(out, content=False) == newest  # headers only (other ranks) pass it, as before


def test_an_untouched_sharded_checkpoint_resumes(run):
    out, saved = run
    newest = latest_resumable(out)
    assert newest == out / "checkpoint-0000002"
    model, ema, opt = _setup(5)
    load_sharded(newest, model, opt, json.loads((newest / STATE_JSON).read_text())["param_groups"], ema)
    for k, v in model.state_dict().items():
        assert torch.equal(v, saved[2][1][k]), k


def test_the_published_weights_of_a_sharded_checkpoint_are_checked_too(run):
    out, _ = run
    newest = out / "checkpoint-0000002"
    check_weights(newest, flag="--checkpoint")
    _overwrite(newest / WEIGHTS)
    with pytest.raises(DamagedCheckpoint, match=f"{newest / WEIGHTS}: its content changed after it was written"):
        check_weights(newest, flag="--checkpoint")


@pytest.mark.parametrize("async_checkpoint", [False, True])
def test_an_fsdp2_run_records_checksums_and_resume_refuses_an_overwritten_shard(tiny_home, tmp_path, async_checkpoint):
    """The trainer's FSDP2 checkpoint (in-process group of one): train_state.json records the checksums;
    a shard file overwritten in place is refused by --resume in one line; the untouched run resumes."""
    first = train(tiny_cfg(tiny_home, tmp_path / "run", steps=2, checkpoint_every=1, keep_last=0, parallel="fsdp",
                           async_checkpoint=async_checkpoint))
    newest = Path(first.checkpoint)
    info = json.loads((newest / STATE_JSON).read_text())
    _assert_recorded(newest, info)
    damaged_run = Path(shutil.copytree(tmp_path / "run", tmp_path / "damaged"))
    damaged = damaged_run / newest.name / SHARDED_DIR / info[SHARD_FILES][-1]
    _overwrite(damaged)
    with pytest.raises(DamagedCheckpoint) as e:
        train(tiny_cfg(tiny_home, damaged_run, steps=3, resume=True))
    msg = str(e.value)
    assert "\n" not in msg and f"is damaged: {damaged}: its content changed after it was written" in msg, msg
    assert f"mv {damaged_run / newest.name} {damaged_run / ('damaged-' + newest.name)}" in msg
    resumed = train(tiny_cfg(tiny_home, tmp_path / "run", steps=3, resume=True))
    assert resumed.steps == 3 and resumed.resumed_from_step == 2
