"""async_checkpoint: checkpoints written beside training hold the state of their own step, are
registered in order, and a failed write stops the run with its error."""

import json
import logging
import os
import threading
import time

import pytest
import torch
from safetensors.torch import load_file

import training.trainer as trainer
from training.checkpoint_writer import CheckpointWriter
from training.ema import ModelEMA
from training.trainer import train

from .test_trainer import tiny_cfg

STEPS, EVERY = 6, 2


def _run(tiny_home, out, **kw):
    calls = []
    hook = lambda path, step, rows: calls.append((path.rsplit("/", 1)[-1], step, [(r["step"], r["train_fm_loss"]) for r in rows]))  # noqa: E731
    result = train(tiny_cfg(tiny_home, out, steps=STEPS, checkpoint_every=EVERY, log_every=1, shuffle_buffer=16, **kw), hook)
    return result, calls


def test_async_checkpoints_hold_their_own_steps_state_while_training_goes_on(tiny_home, tmp_path, monkeypatch):
    """Each write is held back until training has taken the next step (which moves weights, EMA and
    AdamW's moments), so a write that read live tensors would record the later state."""
    sync, sync_calls = _run(tiny_home, tmp_path / "sync")

    updates = {"n": 0}
    moved_on = threading.Condition()
    real_update, real_beside = ModelEMA.update, trainer._write_beside

    def counting_update(self, model, step):
        real_update(self, model, step)
        with moved_on:
            updates["n"] += 1
            moved_on.notify_all()

    def held_back(tmp, cfg, ctx, info):
        at = info["steps"]
        if at < STEPS:  # the final checkpoint has no next step to wait for
            with moved_on:
                assert moved_on.wait_for(lambda: updates["n"] > at, timeout=60), "training did not go on during the write"
        real_beside(tmp, cfg, ctx, info)

    monkeypatch.setattr(ModelEMA, "update", counting_update)
    monkeypatch.setattr(trainer, "_write_beside", held_back)
    held, held_calls = _run(tiny_home, tmp_path / "async", async_checkpoint=True)

    assert held.losses == sync.losses and len(held.losses) == STEPS
    assert held_calls == sync_calls and [c[1] for c in held_calls] == [2, 4, 6]
    assert [p.rsplit("/", 1)[-1] for p in held.checkpoints] == [f"checkpoint-{s:07d}" for s in (2, 4, 6)]
    for step in (2, 4, 6):
        name = f"checkpoint-{step:07d}"
        for file in ("model.safetensors", "train_state.safetensors"):
            a, b = (load_file(str(tmp_path / run / name / file)) for run in ("sync", "async"))
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a), (name, file)
        a, b = (json.loads((tmp_path / run / name / "train_state.json").read_text()) for run in ("sync", "async"))
        assert a.pop("seconds") > 0 and b.pop("seconds") > 0  # the run's training time: a timing, the rest must agree
        for row in a["catalog_rows"] + b["catalog_rows"]:  # the log windows' catalog rows: tokens/s is a timing too
            assert row.pop("tokens_per_s") > 0
        assert a == b, name
    assert held.checkpoint_seconds > 0 and sync.checkpoint_seconds > 0


def test_fsdp_async_checkpoints_hold_their_own_steps_state_while_training_goes_on(tiny_home, tmp_path, monkeypatch):
    """FSDP2 in one process: DCP's async_save stages a copy, and its writes are held back here
    until training has taken the next step; the shards and the EMA weights are those of a
    synchronous run, bit for bit."""
    import torch.distributed.checkpoint as dcp

    from training.sharded_state import read_whole

    own_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    sync, sync_calls = _run(tiny_home, tmp_path / "sync", parallel="fsdp")

    updates = {"n": 0}
    moved_on = threading.Condition()
    real_update, real_write = ModelEMA.update, dcp.HuggingFaceStorageWriter.write_data

    def counting_update(self, model, step):
        real_update(self, model, step)
        with moved_on:
            updates["n"] += 1
            moved_on.notify_all()

    writers = []  # (thread, nice value) of each write

    staged = []  # each write's CPU copy of the state, kept alive so no buffer can be freed and reallocated

    def held_back_write(self, plan, planner):
        writers.append((threading.current_thread(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
        staged.append({k: getattr(v, "_local_tensor", v) for k, v in planner.state_dict.items() if isinstance(v, torch.Tensor)})
        at = int(self.path.parent.name.split("-")[1])  # .checkpoint-<step>-<random>/train_state
        if at < STEPS:
            with moved_on:
                assert moved_on.wait_for(lambda: updates["n"] > at, timeout=60), "training did not go on during the write"
        return real_write(self, plan, planner)

    monkeypatch.setattr(ModelEMA, "update", counting_update)
    monkeypatch.setattr(dcp.HuggingFaceStorageWriter, "write_data", held_back_write)
    held, held_calls = _run(tiny_home, tmp_path / "async", parallel="fsdp", async_checkpoint=True)

    assert held.losses == sync.losses and held_calls == sync_calls and [c[1] for c in held_calls] == [2, 4, 6]
    # DCP's async writes ran in its own threads at the lowest priority; training's thread, which
    # wrote the synchronous run's checkpoints, kept its own
    assert len(writers) == 3 and all(t is not threading.main_thread() and nice == 19 for t, nice in writers), writers
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own_nice < 19
    # the later checkpoints were copied into the first one's buffers, not fresh ones
    weights = [k for k in staged[0] if k.startswith(("model.", "optim."))]
    assert len(staged) == 3 and len(weights) > 10
    assert all(later[k].data_ptr() == staged[0][k].data_ptr() for later in staged[1:] for k in weights)
    for step in (2, 4, 6):
        name = f"checkpoint-{step:07d}"
        a, b = (read_whole(tmp_path / run / name) for run in ("sync", "async"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
        a, b = (load_file(str(tmp_path / run / name / "model.safetensors")) for run in ("sync", "async"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


def test_a_stop_right_after_a_checkpoint_in_flight_publishes_and_registers_it_once(tiny_home, tmp_path, monkeypatch):
    """Stopped at a step that has just started its checkpoint: the run waits for that write instead
    of writing and registering the same step again."""
    import signal

    from training.stopping import write_stop_file

    out = tmp_path / "run"
    real_update, real_beside = ModelEMA.update, trainer._write_beside

    def stop_after_second_step(self, model, step):
        real_update(self, model, step)
        if step == 1:  # read after this step's checkpoint (step 2)
            write_stop_file(out, signal.SIGTERM)

    def slow_beside(*args):
        time.sleep(0.5)  # still in flight when the loop ends
        real_beside(*args)

    monkeypatch.setattr(ModelEMA, "update", stop_after_second_step)
    monkeypatch.setattr(trainer, "_write_beside", slow_beside)
    result, calls = _run(tiny_home, out, async_checkpoint=True)
    assert result.stopped_by == "SIGTERM" and result.steps == 2
    assert [c[:2] for c in calls] == [("checkpoint-0000002", 2)]
    assert [p.rsplit("/", 1)[-1] for p in result.checkpoints] == ["checkpoint-0000002"]


def test_a_failed_background_write_stops_the_run_with_its_error(tiny_home, tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(trainer, "write_state", full_disk)
    with pytest.raises(OSError, match="No space left"):
        _run(tiny_home, tmp_path / "run", async_checkpoint=True)
    assert not list((tmp_path / "run").glob("checkpoint-*"))  # nothing published half written
    assert not [t for t in threading.enumerate() if t.name.startswith("checkpoint-writer")]


def test_writer_runs_one_write_at_a_time_in_order():
    writer, done = CheckpointWriter(asynchronous=True), []

    def slow():
        time.sleep(0.2)
        done.append("first")
        assert threading.current_thread().name.startswith("checkpoint-writer")  # named for py-spy and tracebacks
        done.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))  # Linux: this thread's nice value

    writer.submit(slow)
    assert done == []  # submit returned while the write runs
    writer.submit(lambda: done.append("second"))
    assert done == ["first", 19]  # the second submit waited for the first write, which ran at the lowest priority
    writer.wait()
    assert done == ["first", 19, "second"]
    writer.close()

    inline = CheckpointWriter(asynchronous=False)
    inline.submit(lambda: done.append("inline"))
    assert done[-1] == "inline" and not inline.asynchronous


def test_close_logs_the_writes_error_instead_of_raising(caplog):
    writer = CheckpointWriter(asynchronous=True)
    writer.submit(lambda: 1 / 0)
    with caplog.at_level(logging.ERROR, logger="training.checkpoint_writer"):
        writer.close()
    assert "checkpoint being written" in caplog.text and "ZeroDivisionError" in caplog.text


def test_staging_reuses_its_buffers_only_once_the_write_reading_them_is_done():
    writer, live = CheckpointWriter(asynchronous=True), torch.zeros(4)
    first = writer.stage({"w": live}, "state")
    assert first["w"] is not live  # a copy: training may change `live` now
    release, seen = threading.Event(), []
    writer.submit(lambda: (release.wait(1.0), seen.append(first["w"].clone())))  # a slow write of step 1
    live.fill_(1.0)  # training goes on
    second = writer.stage({"w": live}, "state")  # must not refill the buffer under the write
    release.set()
    writer.wait()
    assert torch.equal(seen[0], torch.zeros(4)) and torch.equal(second["w"], torch.ones(4))
    assert second["w"].data_ptr() == first["w"].data_ptr()  # reused: no fresh pages to fault in per checkpoint
    writer.close()


def test_staging_keeps_each_tensors_dtype_and_shape_and_refits_a_buffer_that_changed():
    """The RNG state is uint8 and weights may be bf16: a staged copy must not become float32, and a
    tensor whose shape or dtype changed between checkpoints gets a buffer of its own kind."""
    writer = CheckpointWriter(asynchronous=True)
    rng, weight = torch.get_rng_state(), torch.arange(6, dtype=torch.bfloat16)
    staged = writer.stage({"rng": rng, "w": weight}, "state")
    assert staged["rng"].dtype == torch.uint8 and torch.equal(staged["rng"], rng)
    assert staged["w"].dtype == torch.bfloat16 and torch.equal(staged["w"], weight)
    reshaped = writer.stage({"rng": rng, "w": weight.view(2, 3)}, "state")["w"]  # same dtype, other shape
    assert reshaped.shape == (2, 3) and torch.equal(reshaped, weight.view(2, 3))
    recast = writer.stage({"rng": rng, "w": weight.view(2, 3).float()}, "state")["w"]  # same shape, other dtype
    assert recast.dtype == torch.float32 and torch.equal(recast, weight.view(2, 3).float())
    writer.close()
