"""The resume state of a checkpoint folder (training/state.py) without a training: a round trip of
model, AdamW and RNG that continues bit for bit, which folders count as checkpoints, the checks
that name a damaged file before anything loads, and pruning and clearing what a killed run left.

The tiny trainings of test_trainer.py and test_resume_safety.py cover the same through `train`;
these run in a second, so mutation testing can run them once per mutant."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from training.state import (STATE_JSON, STATE_TENSORS, DamagedCheckpoint, check_weights, checkpoint_dir,
                            checkpoint_problems, checkpoints, clear_unfinished, json_problem, latest_resumable,
                            load_tensors, optimizer_state, prune, publish, read_json, read_state, restore_rng,
                            safetensors_problem, state_tensors, write_state)


# --- resume continues exactly ---------------------------------------------------------------------------------

def _setup(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 3))
    return model, opt, sched


def _steps(model, opt, sched, n: int) -> list[float]:
    """Training steps whose data come from the global RNG: a resume that did not restore it differs."""
    losses = []
    for _ in range(n):
        x = torch.randn(5, 4)
        loss = (model(x) - x[:, :2]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


def test_n_steps_save_resume_n_steps_equals_2n_steps_straight_bit_for_bit(tmp_path):
    model, opt, sched = _setup()
    torch.manual_seed(123)
    straight = _steps(model, opt, sched, 6)
    final = {k: v.clone() for k, v in model.state_dict().items()}

    model, opt, sched = _setup()
    torch.manual_seed(123)
    first = _steps(model, opt, sched, 3)
    tensors, opt_info = state_tensors(model.state_dict(), opt.state_dict())
    write_state(tmp_path, tensors, {"step": 3, "scheduler": sched.state_dict(), **opt_info})
    torch.manual_seed(999)  # the global RNG of the new process is anything
    torch.randn(17)

    model, opt, sched = _setup(seed=1)  # other initial weights: the state must replace them
    tensors, info = read_state(tmp_path)
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
    opt.load_state_dict(optimizer_state(tensors, info))
    sched.load_state_dict(info["scheduler"])
    restore_rng(tensors)
    assert first + _steps(model, opt, sched, 3) == straight
    for k, v in model.state_dict().items():
        assert torch.equal(v, final[k]), k


def test_the_state_names_each_tensor_and_keeps_the_optimizers_scalars_in_the_json_part(tmp_path):
    weights = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.ones(2)}
    opt = {"state": {0: {"step": 4, "exp_avg": torch.full((2, 3), 0.5)}, 11: {"step": 7.5, "exp_avg_sq": torch.ones(2)}},
           "param_groups": [{"lr": 0.1, "params": [0, 11]}]}
    tensors, info = state_tensors(weights, opt)
    assert set(tensors) == {"model.w", "model.b", "optim.0.exp_avg", "optim.11.exp_avg_sq", "rng.torch"}
    assert info == {"param_groups": [{"lr": 0.1, "params": [0, 11]}], "optim_scalars": {"0": {"step": 4}, "11": {"step": 7.5}}}
    assert torch.equal(tensors["rng.torch"], torch.get_rng_state())

    write_state(tmp_path, tensors, {"step": 3, **info})
    back, saved = read_state(tmp_path)
    assert saved["step"] == 3
    again = optimizer_state(back, saved)
    assert set(again["state"]) == {0, 11}  # parameter indices as ints again, as load_state_dict wants them
    assert again["state"][0]["step"] == 4 and again["state"][11]["step"] == 7.5
    assert torch.equal(again["state"][0]["exp_avg"], opt["state"][0]["exp_avg"])
    assert torch.equal(again["state"][11]["exp_avg_sq"], opt["state"][11]["exp_avg_sq"])
    assert again["param_groups"] == opt["param_groups"]


def test_an_optimizer_without_scalars_comes_back_from_a_json_part_without_them():
    tensors = {"model.w": torch.zeros(1), "optim.2.momentum_buffer": torch.ones(1)}
    back = optimizer_state(tensors, {"param_groups": [{"params": [2]}]})
    assert list(back["state"]) == [2] and torch.equal(back["state"][2]["momentum_buffer"], torch.ones(1))


def test_write_state_writes_views_and_values_json_cannot_hold(tmp_path):
    view = torch.arange(12.0).reshape(3, 4).t()  # not contiguous: safetensors refuses those as they are
    write_state(tmp_path, {"model.w": view}, {"step": 1, "out_dir": tmp_path})
    back, info = read_state(tmp_path)
    assert torch.equal(back["model.w"], view)
    assert info["out_dir"] == str(tmp_path)


def test_restore_rng_brings_back_the_saved_stream():
    tensors, _ = state_tensors({}, {"state": {}, "param_groups": []})
    expected = torch.rand(5)
    torch.rand(3)
    restore_rng(tensors)
    assert torch.equal(torch.rand(5), expected)


# --- which folders are checkpoints ----------------------------------------------------------------------------

def _checkpoint(out: Path, step: int, state: bool = True) -> Path:
    """A checkpoint folder whose files load: config, weights, training.json and (state) the resume state."""
    ckpt = checkpoint_dir(out, step)
    ckpt.mkdir(parents=True)
    (ckpt / "config.json").write_text(json.dumps({"dim": 8}))
    save_file({"w": torch.ones(2, 2)}, str(ckpt / "model.safetensors"))
    (ckpt / "training.json").write_text(json.dumps({"steps": step}))
    if state:
        save_file({"model.w": torch.ones(2, 2)}, str(ckpt / STATE_TENSORS))
        (ckpt / STATE_JSON).write_text(json.dumps({"step": step}))
    return ckpt


def _cut(path: Path, keep: int = 20) -> None:
    with open(path, "r+b") as f:
        f.truncate(keep)


def test_checkpoint_folders_are_numbered_by_step_and_listed_in_step_order(tmp_path):
    assert checkpoint_dir(tmp_path, 200) == tmp_path / "checkpoint-0000200"
    for step in (10, 9, 10000000, 9999999, 200):
        _checkpoint(tmp_path, step)
    assert checkpoint_dir(tmp_path, 10000000).name == "checkpoint-10000000"
    # past 7 digits the names no longer sort as text (checkpoint-10000000 < checkpoint-9999999): the step decides
    assert [p.name for p in checkpoints(tmp_path)] == ["checkpoint-0000009", "checkpoint-0000010", "checkpoint-0000200",
                                                       "checkpoint-9999999", "checkpoint-10000000"]
    assert checkpoints(str(tmp_path))[-1] == tmp_path / "checkpoint-10000000"


def test_half_written_and_set_aside_folders_are_no_checkpoints(tmp_path):
    _checkpoint(tmp_path, 2)
    (tmp_path / ".checkpoint-0000004-abc").mkdir()
    (tmp_path / ".checkpoint-0000004-abc" / "config.json").write_text("{}")
    _checkpoint(tmp_path, 6).rename(tmp_path / "damaged-checkpoint-0000006")
    (tmp_path / "checkpoint-0000010x").mkdir()
    (tmp_path / "checkpoint-0000010x" / "config.json").write_text("{}")
    (tmp_path / "checkpoint-0000012").write_text("a file, not a folder")
    assert [p.name for p in checkpoints(tmp_path)] == ["checkpoint-0000002"]
    assert checkpoints(tmp_path / "not-there") == []
    assert latest_resumable(tmp_path / "not-there") is None


def test_a_published_folder_that_lost_its_config_is_still_a_checkpoint_and_refused_as_damaged(tmp_path):
    """Publishing renames a whole folder, so checkpoint-<step> is a checkpoint whatever it has lost since:
    listed only with its config.json, a newest one without it was passed over, and a --resume went back to
    the one before and wrote over it."""
    two = _checkpoint(tmp_path, 2)
    newest = _checkpoint(tmp_path, 4)
    (newest / "config.json").unlink()
    assert checkpoints(tmp_path) == [two, newest]
    with pytest.raises(DamagedCheckpoint) as e:
        latest_resumable(tmp_path)
    assert str(e.value) == (
        f"--resume: the newest checkpoint, {newest}, is damaged: {newest / 'config.json'}: missing; to continue from "
        f"checkpoint-0000002 (the newest intact one; steps after it are trained again), move the damaged one out of the "
        f"run folder first: mv {newest} {tmp_path / 'damaged-checkpoint-0000004'}")
    (tmp_path / "checkpoint-0000006").mkdir()  # empty: nothing left of it, still not passed over
    with pytest.raises(DamagedCheckpoint, match="checkpoint-0000006, has no train_state.json"):
        latest_resumable(tmp_path)
    assert prune(tmp_path, 1) == [two, newest]  # old ones are pruned like any other


# --- damaged files are named before anything loads ------------------------------------------------------------

def test_an_intact_safetensors_file_has_no_problem_and_each_damage_says_what_it_is(tmp_path):
    path = tmp_path / "a.safetensors"
    save_file({"x": torch.ones(3), "y": torch.zeros(2, 2)}, str(path))
    assert safetensors_problem(path) is None
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")

    assert safetensors_problem(tmp_path / "none.safetensors") == "missing"
    path.write_bytes(data[:5])
    assert safetensors_problem(path) == "5 bytes, shorter than a safetensors header"
    path.write_bytes(data[:8])  # a header length but no header
    assert safetensors_problem(path) == f"cut short: 8 bytes, but its header alone says {8 + n}"
    path.write_bytes(data[:8 + n])  # the header alone, every tensor's bytes gone
    assert safetensors_problem(path) == f"cut short: {8 + n} bytes where its header describes {len(data)}"
    path.write_bytes(data[:-1])
    assert safetensors_problem(path) == f"cut short: {len(data) - 1} bytes where its header describes {len(data)}"
    path.write_bytes(data + b"\0")  # longer than described: safetensors refuses it too, and it is not cut short
    assert safetensors_problem(path) == (f"1 extra byte after its data: {len(data) + 1} bytes where its header "
                                         f"describes {len(data)} (appended to, or written over a longer file?)")


def test_a_header_that_is_no_header_is_said_so(tmp_path):
    path = tmp_path / "a.safetensors"

    def header(raw: bytes, tail: bytes = b"") -> str | None:
        path.write_bytes(len(raw).to_bytes(8, "little") + raw + tail)
        return safetensors_problem(path)

    assert header(b"not json") == "not a safetensors file (JSONDecodeError: Expecting value: line 1 column 1 (char 0))"
    assert header(b"{\"\xff\": 1}").startswith("not a safetensors file (UnicodeDecodeError: ")
    assert header(b"[1, 2]") == "not a safetensors file (its header is not a table)"
    assert header(b'{"x": {"dtype": "F32"}}') == "not a safetensors file (its header has no data offsets)"
    assert header(b'{"x": {"data_offsets": 5}}') == "not a safetensors file (its header has no data offsets)"
    assert header(b'{"x": {"data_offsets": [0]}}') == "not a safetensors file (its header has no data offsets)"
    assert header(b'{"x": {"data_offsets": [0, "four"]}}') == "not a safetensors file (its header has no data offsets)"
    # only metadata, no tensor: nothing past the header
    assert header(b'{"__metadata__": {"format": "pt"}}') is None
    # the end of the furthest tensor counts, metadata does not
    assert header(b'{"__metadata__": {"a": "b"}, "x": {"data_offsets": [4, 12]}, "y": {"data_offsets": [0, 4]}}',
                  b"\0" * 12) is None
    assert header(b'{"x": {"data_offsets": [4, 12]}, "y": {"data_offsets": [0, 4]}}', b"\0" * 4).startswith(
        "cut short: ")
    # a directory where the file should be
    (tmp_path / "d.safetensors").mkdir()
    assert safetensors_problem(tmp_path / "d.safetensors").startswith("not a safetensors file (IsADirectoryError: ")


def test_json_problem_names_missing_cut_and_undecodable_files(tmp_path):
    good = tmp_path / "good.json"
    good.write_text('{"a": 1}')
    assert json_problem(good) is None
    assert json_problem(tmp_path / "none.json") == "missing"
    cut = tmp_path / "cut.json"
    cut.write_text('{"a": ')
    assert json_problem(cut).startswith("not valid JSON, cut short? (Expecting value: line 1")
    raw = tmp_path / "raw.json"
    raw.write_bytes(b'{"a": "\xff"}')
    assert json_problem(raw).startswith("not valid JSON, cut short? ('utf-8' codec can't decode")


def test_checkpoint_problems_lists_each_damaged_file_with_its_path(tmp_path):
    ckpt = _checkpoint(tmp_path, 2)
    assert checkpoint_problems(ckpt) == [] and checkpoint_problems(str(ckpt), resume=False) == []
    _cut(ckpt / "model.safetensors")
    (ckpt / "config.json").write_text("{")
    (ckpt / "training.json").write_text("[")
    _cut(ckpt / STATE_TENSORS)
    (ckpt / STATE_JSON).unlink()
    problems = checkpoint_problems(ckpt)
    assert [p.split(": ", 1)[0] for p in problems] == [str(ckpt / n) for n in (
        "config.json", "model.safetensors", "training.json", STATE_JSON, STATE_TENSORS)]
    assert problems[3] == f"{ckpt / STATE_JSON}: missing"
    assert problems[1] == f"{ckpt / 'model.safetensors'}: cut short: 20 bytes, but its header alone says " + str(
        8 + int.from_bytes((ckpt / "model.safetensors").read_bytes()[:8], "little"))
    # what --init-from, evaluation and sampling read: not the resume state
    assert [p.split(": ", 1)[0] for p in checkpoint_problems(ckpt, resume=False)] == [
        str(ckpt / n) for n in ("config.json", "model.safetensors", "training.json")]


def test_training_json_is_needed_to_resume_but_not_for_the_weights(tmp_path):
    """A resume continues with the run's settings from training.json: without it a bare --resume trained
    on with the library's defaults, without a word. A converted release has only config.json and the
    weights, which is all --init-from, evaluation and sampling read."""
    ckpt = _checkpoint(tmp_path, 2)
    (ckpt / "training.json").unlink()
    assert checkpoint_problems(ckpt) == [f"{ckpt / 'training.json'}: missing"]
    assert checkpoint_problems(ckpt, resume=False) == []
    check_weights(ckpt)
    with pytest.raises(DamagedCheckpoint) as e:
        latest_resumable(tmp_path)
    assert str(e.value) == (
        f"--resume: the newest checkpoint, {ckpt}, is damaged: {ckpt / 'training.json'}: missing; no earlier "
        f"checkpoint of this run is intact: start anew in another --out-dir, or --init-from {ckpt} to keep its weights")


def _sharded(out: Path, step: int, recorded: list[str] | None) -> Path:
    """A sharded checkpoint of two ranks, two files each; train_state.json lists them unless `recorded` is None."""
    from training.sharded_state import SHARD_FILES

    ckpt = _checkpoint(out, step, state=False)
    shards = ckpt / "train_state"
    shards.mkdir()
    for rank in (1, 2):
        for part in (1, 2):
            save_file({"model.w": torch.ones(2)}, str(shards / f"shard-0000{rank}-model-0000{part}-of-00002.safetensors"))
    (ckpt / STATE_JSON).write_text(json.dumps({"step": step, "sharded": True,
                                               **({} if recorded is None else {SHARD_FILES: recorded})}))
    return ckpt


def test_each_shard_file_train_state_json_lists_must_be_there(tmp_path):
    """A lost shard file (one rank's node-local disk, a partial copy) went unnoticed until DCP's load
    failed with `CheckpointException ranks:dict_keys([0])`; how many files a rank writes depends on
    what it holds, so only the list written with them tells."""
    from training.sharded_state import shard_files

    ckpt = _sharded(tmp_path, 2, None)
    names = shard_files(ckpt)
    assert len(names) == 4 and shard_files(str(ckpt)) == names
    shutil.rmtree(ckpt)
    ckpt = _sharded(tmp_path, 2, names)
    shards = ckpt / "train_state"
    assert checkpoint_problems(ckpt) == []
    (shards / names[1]).unlink()
    (shards / names[3]).unlink()
    assert checkpoint_problems(ckpt) == [f"{shards / names[1]}: missing", f"{shards / names[3]}: missing"]
    assert checkpoint_problems(ckpt, resume=False) == []  # the published weights are whole
    with pytest.raises(DamagedCheckpoint, match=f"is damaged: {shards / names[1]}: missing; {shards / names[3]}: missing; "):
        latest_resumable(tmp_path)
    shutil.rmtree(shards)  # every rank's files gone
    assert checkpoint_problems(ckpt) == [f"{shards / n}: missing" for n in names]
    (ckpt / STATE_JSON).write_text(json.dumps({"step": 2, "sharded": True}))  # and no list
    assert checkpoint_problems(ckpt) == [f"{shards}: missing"]
    shards.mkdir()
    assert checkpoint_problems(ckpt) == [f"{shards}: holds no shard file"]


def test_a_sharded_checkpoint_written_before_the_list_is_checked_by_the_files_present(tmp_path):
    ckpt = _sharded(tmp_path, 2, None)
    (ckpt / "train_state" / "shard-00002-model-00002-of-00002.safetensors").unlink()
    assert checkpoint_problems(ckpt) == []  # nothing says it was there
    assert latest_resumable(tmp_path) == ckpt
    for junk in ("x", None, [1, None]):  # a list that is no list of names checks the files present
        (ckpt / STATE_JSON).write_text(json.dumps({"step": 2, "sharded": True, "shard_files": junk}))
        assert checkpoint_problems(ckpt) == []
    (ckpt / STATE_JSON).write_text(json.dumps([1, 2]))  # valid JSON, not a table: no list either
    assert checkpoint_problems(ckpt) == []


def test_a_sharded_checkpoint_is_checked_file_by_file_instead_of_the_whole_tensor_state(tmp_path):
    ckpt = _checkpoint(tmp_path, 2, state=False)
    (ckpt / STATE_JSON).write_text(json.dumps({"step": 2, "sharded": True}))
    shards = ckpt / "train_state"
    shards.mkdir()
    for rank in (1, 2):
        save_file({"model.w": torch.ones(2)}, str(shards / f"shard-0000{rank}-model-00001-of-00001.safetensors"))
    (shards / ".metadata").write_text("not a safetensors file, not checked")
    assert checkpoint_problems(ckpt) == []  # no train_state.safetensors expected
    _cut(shards / "shard-00002-model-00001-of-00001.safetensors", 10)
    assert [p.split(": ", 1)[0] for p in checkpoint_problems(ckpt)] == [
        str(shards / "shard-00002-model-00001-of-00001.safetensors")]
    assert checkpoint_problems(ckpt, resume=False) == []


def test_check_weights_names_the_flag_and_the_damaged_file(tmp_path):
    ckpt = _checkpoint(tmp_path, 2)
    check_weights(ckpt)  # intact: nothing said
    (ckpt / STATE_JSON).unlink()  # the resume state is not what --init-from reads
    check_weights(ckpt)
    _cut(ckpt / "model.safetensors")
    with pytest.raises(DamagedCheckpoint) as e:
        check_weights(ckpt, flag="--checkpoint")
    assert str(e.value).startswith(f"--checkpoint {ckpt}: damaged checkpoint, {ckpt / 'model.safetensors'}: cut short")
    assert isinstance(e.value, ValueError)  # the command lines print ValueErrors as one line
    with pytest.raises(DamagedCheckpoint, match=r"^--init-from "):
        check_weights(ckpt)


def test_latest_resumable_is_the_newest_when_it_is_intact(tmp_path):
    assert latest_resumable(tmp_path) is None  # no checkpoint yet
    _checkpoint(tmp_path, 2)
    _cut(checkpoint_dir(tmp_path, 2) / STATE_TENSORS)  # an older damaged one does not matter
    newest = _checkpoint(tmp_path, 4)
    assert latest_resumable(tmp_path) == newest


def test_a_newest_checkpoint_without_resume_state_is_refused_with_the_way_to_the_intact_one(tmp_path):
    _checkpoint(tmp_path, 2)
    four = _checkpoint(tmp_path, 4)
    _cut(checkpoint_dir(tmp_path, 4) / STATE_TENSORS)  # damaged: passed over for the one before it
    newest = _checkpoint(tmp_path, 6)
    (newest / STATE_JSON).unlink()
    with pytest.raises(DamagedCheckpoint) as e:
        latest_resumable(tmp_path)
    assert str(e.value) == (
        f"--resume: the newest checkpoint, {newest}, has no {STATE_JSON} (no resume state: deleted, or copied "
        f"without it); to continue from checkpoint-0000002 (the newest intact one; steps after it are trained again), "
        f"move the damaged one out of the run folder first: mv {newest} {tmp_path / 'damaged-checkpoint-0000006'}; "
        f"or --init-from {newest} starts a new stage from its weights")
    assert four.exists()


def test_a_damaged_newest_checkpoint_offers_no_init_from_when_its_weights_are_damaged_too(tmp_path):
    two = _checkpoint(tmp_path, 2)
    newest = _checkpoint(tmp_path, 4)
    _cut(newest / "model.safetensors")
    with pytest.raises(DamagedCheckpoint) as e:
        latest_resumable(tmp_path)
    said = str(e.value)
    assert said.startswith(f"--resume: the newest checkpoint, {newest}, is damaged: {newest / 'model.safetensors'}: cut short")
    assert said.endswith(f"; to continue from {two.name} (the newest intact one; steps after it are trained again), move the "
                         f"damaged one out of the run folder first: mv {newest} {tmp_path / 'damaged-checkpoint-0000004'}")
    assert "--init-from" not in said
    # an earlier one with its state json but damaged tensors is no way on either
    _cut(two / STATE_TENSORS)
    with pytest.raises(DamagedCheckpoint) as e:
        latest_resumable(tmp_path)
    assert str(e.value).endswith("no earlier checkpoint of this run is intact: start anew in another --out-dir")


def test_with_no_intact_earlier_checkpoint_the_way_on_is_a_new_run_or_the_newest_weights(tmp_path):
    two = _checkpoint(tmp_path, 2)
    (two / STATE_JSON).unlink()
    newest = _checkpoint(tmp_path, 4)
    (newest / STATE_JSON).write_text('{"step": ')
    with pytest.raises(DamagedCheckpoint) as e:
        latest_resumable(tmp_path)
    assert str(e.value) == (
        f"--resume: the newest checkpoint, {newest}, is damaged: {newest / STATE_JSON}: not valid JSON, cut short? "
        f"(Expecting value: line 1 column 10 (char 9)); no earlier checkpoint of this run is intact: start anew in "
        f"another --out-dir, or --init-from {newest} to keep its weights")


def test_a_sharded_newest_checkpoint_without_its_json_is_called_damaged(tmp_path):
    """An FSDP2 folder with its shards but no train_state.json: the shards are there, the JSON is missing."""
    newest = _checkpoint(tmp_path, 2, state=False)
    (newest / "train_state").mkdir()
    save_file({"model.w": torch.ones(2)}, str(newest / "train_state" / "shard-00001-model-00001-of-00001.safetensors"))
    with pytest.raises(DamagedCheckpoint) as e:
        latest_resumable(tmp_path)
    assert f"is damaged: {newest / STATE_JSON}: missing" in str(e.value)
    (newest / STATE_JSON).write_text(json.dumps({"step": 2}))
    assert latest_resumable(tmp_path) == newest


def test_reading_a_damaged_state_names_the_file_and_a_missing_one_stays_missing(tmp_path):
    ckpt = _checkpoint(tmp_path, 2)
    assert torch.equal(load_tensors(ckpt / STATE_TENSORS)["model.w"], torch.ones(2, 2))
    assert read_json(ckpt / STATE_JSON) == {"step": 2}
    _cut(ckpt / STATE_TENSORS)
    with pytest.raises(DamagedCheckpoint, match=f"^{ckpt / STATE_TENSORS} does not load \\(cut short: 20 bytes, "):
        load_tensors(ckpt / STATE_TENSORS)
    (ckpt / STATE_JSON).write_text("{")
    with pytest.raises(DamagedCheckpoint, match=f"^{ckpt / STATE_JSON} is not valid JSON, cut short\\? \\(Expecting"):
        read_json(ckpt / STATE_JSON)
    with pytest.raises(FileNotFoundError):
        load_tensors(tmp_path / "none.safetensors")
    with pytest.raises(FileNotFoundError):
        read_json(tmp_path / "none.json")


# --- publishing, clearing, pruning ----------------------------------------------------------------------------

def test_publish_replaces_the_folder_with_the_modes_the_umask_gives(tmp_path):
    final = _checkpoint(tmp_path, 2)
    (final / "stale.txt").write_text("from an earlier write of this step")
    tmp = tmp_path / ".checkpoint-0000002-x"
    tmp.mkdir(mode=0o700)
    (tmp / "config.json").write_text("{}")
    os.chmod(tmp / "config.json", 0o600)
    old = os.umask(0o022)
    try:
        publish(tmp, final)
    finally:
        os.umask(old)
    assert not tmp.exists() and sorted(p.name for p in final.iterdir()) == ["config.json"]
    assert stat.S_IMODE(final.stat().st_mode) == 0o755 and stat.S_IMODE((final / "config.json").stat().st_mode) == 0o644
    (tmp_path / "new-tmp").mkdir()
    publish(tmp_path / "new-tmp", checkpoint_dir(tmp_path, 4))  # no earlier folder of that step: a plain rename
    assert checkpoint_dir(tmp_path, 4).is_dir() and not (tmp_path / "new-tmp").exists()


def test_clear_unfinished_deletes_only_the_half_written_folders(tmp_path):
    assert clear_unfinished(tmp_path / "not-there") == []
    kept = _checkpoint(tmp_path, 2)
    b = tmp_path / ".checkpoint-0000006-b"
    a = tmp_path / ".checkpoint-0000004-a"
    for half in (b, a):
        (half / "train_state").mkdir(parents=True)
        (half / "train_state" / "shard.safetensors").write_bytes(b"partial")
    (tmp_path / ".checkpoint-note").write_text("a file, not a folder")
    (tmp_path / "metrics.csv").write_text("step\n")
    assert clear_unfinished(str(tmp_path)) == [a, b]
    assert not a.exists() and not b.exists() and kept.exists()
    assert (tmp_path / ".checkpoint-note").exists() and (tmp_path / "metrics.csv").exists()
    assert clear_unfinished(tmp_path) == []


def test_prune_keeps_the_newest_k_and_zero_keeps_all(tmp_path):
    for step in (2, 4, 6, 8):
        _checkpoint(tmp_path, step)
    (tmp_path / ".checkpoint-0000010-x").mkdir()  # not published: not prune's
    assert prune(tmp_path, 0) == [] and len(checkpoints(tmp_path)) == 4
    assert prune(tmp_path, 5) == [] and len(checkpoints(tmp_path)) == 4
    assert prune(tmp_path, 4) == [] and len(checkpoints(tmp_path)) == 4
    assert prune(str(tmp_path), 2) == [checkpoint_dir(tmp_path, 2), checkpoint_dir(tmp_path, 4)]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("checkpoint-")) == [
        "checkpoint-0000006", "checkpoint-0000008"]
    assert prune(tmp_path, 1) == [checkpoint_dir(tmp_path, 6)]
    assert [p.name for p in checkpoints(tmp_path)] == ["checkpoint-0000008"]
    assert (tmp_path / ".checkpoint-0000010-x").exists()


def test_the_way_on_names_the_newest_intact_checkpoint_and_every_damaged_file(tmp_path):
    for step in (2, 4):
        _checkpoint(tmp_path, step)
    newest = _checkpoint(tmp_path, 6)
    _cut(newest / STATE_TENSORS)
    (newest / "training.json").write_text("{")
    with pytest.raises(DamagedCheckpoint) as e:
        latest_resumable(tmp_path)
    said = str(e.value)
    assert f"is damaged: {newest / 'training.json'}: not valid JSON, cut short? (Expecting property name enclosed in " \
           f"double quotes: line 1 column 2 (char 1)); {newest / STATE_TENSORS}: cut short: 20 bytes" in said
    assert "to continue from checkpoint-0000004 (the newest intact one;" in said  # not checkpoint-0000002


def test_an_error_without_a_message_is_named_by_its_type():
    from training.state import _first_line

    assert _first_line(ValueError()) == "ValueError"
    assert _first_line(OSError("first line\nsecond line")) == "first line"


def test_a_parameter_with_only_scalar_state_comes_back(tmp_path):
    opt = {"state": {0: {"exp_avg": torch.ones(2), "step": 1}, 3: {"step": 2}}, "param_groups": [{"params": [0, 3]}]}
    tensors, info = state_tensors({}, opt)
    back = optimizer_state(tensors, info)
    assert back["state"][3] == {"step": 2} and back["state"][0]["step"] == 1


def test_a_folder_that_cannot_be_deleted_does_not_stop_the_run(tmp_path, monkeypatch):
    """Clearing a killed run's half-written folders and pruning old checkpoints are housekeeping: a file
    another process holds (NFS's .nfs files, a permission) leaves that folder behind, the run goes on."""
    real_unlink = os.unlink

    def unlink(path, *a, **k):
        if os.fspath(path) == "busy":
            raise PermissionError(13, "Permission denied", "busy")
        return real_unlink(path, *a, **k)

    half = tmp_path / ".checkpoint-0000004-x"
    half.mkdir()
    (half / "busy").write_text("held")
    (half / "free").write_text("")
    old = _checkpoint(tmp_path, 2)
    (old / "busy").write_text("held")
    _checkpoint(tmp_path, 6)
    monkeypatch.setattr(os, "unlink", unlink)
    assert clear_unfinished(tmp_path) == [half]
    assert not (half / "free").exists() and (half / "busy").exists()
    assert prune(tmp_path, 1) == [old]
    left = tmp_path / f".{old.name}-pruned"  # partly deleted: no published checkpoint with files gone
    assert not old.exists() and not (left / "config.json").exists() and (left / "busy").exists()
