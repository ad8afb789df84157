"""A stopped and resumed run's TensorBoard epoch/* figures (a speech walkthrough, 2026-12-06: SIGINT at
step 7 of a 10-batch epoch, then --resume): at the step that ended epoch 0 they were those of the
3 batches the resumed call trained (epoch/batches 3, epoch/padding 9.9%) where the straight run's
were the epoch's (10, 6.9%); the losses, weights and metrics.csv were identical. The checkpoint
now records the open epoch's sums and the resume adds to them. The log line still says the call's
own batches ("epoch 0, batches 7-9: ...")."""

from __future__ import annotations

import json
import logging

from training.monitor import BatchLog, EpochBatches, RunMonitor
from training.stream import Position
from training.trainer import TrainConfig, train

TINY = {"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4}


def _epochs_logged(monkeypatch) -> list[tuple[int, dict]]:
    seen: list[tuple[int, dict]] = []
    monkeypatch.setattr(RunMonitor, "log_epoch", lambda self, step, epoch: seen.append((step, epoch.figures())))
    return seen


def test_a_resumed_epoch_is_summed_up_whole_as_in_a_straight_run(tiny_home, tmp_path, monkeypatch, caplog):
    seen = _epochs_logged(monkeypatch)
    opts = dict(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                model_overrides=TINY, batch_size=64, log_every=1, progress=False, tensorboard=False, num_threads=1)
    train(TrainConfig(out_dir=str(tmp_path / "a"), steps=4, **opts))
    straight = list(seen)
    assert len(straight) == 1 and straight[0][1]["batches"] >= 3, straight  # epoch 0 ended inside the 4 steps
    seen.clear()
    train(TrainConfig(out_dir=str(tmp_path / "b"), steps=2, **opts))
    with caplog.at_level(logging.INFO, logger="training"):
        train(TrainConfig(out_dir=str(tmp_path / "b"), steps=4, resume=True, **opts))
    assert seen == straight, (seen, straight)
    state = json.loads((tmp_path / "b" / "checkpoint-0000002" / "train_state.json").read_text())
    assert state["epoch_batches"]["batches"] == 2 and state["epoch_batches"]["first"] == 0  # what the resume read
    last = straight[0][1]["batches"] - 1
    span = "batch 2" if last == 2 else f"batches 2-{last}"
    assert f"epoch 0, {span}: {last - 1} batch" in caplog.text  # the line: this call's batches, as before


def test_the_open_epoch_carries_over_two_resumes_and_is_dropped_at_its_end():
    first = BatchLog(1024)
    first.add({"position": Position(3, 0), "global_size": 2, "tokens": 100, "padded_tokens": 120, "epoch_ends": False})
    saved = first.open_epoch()
    assert saved["epoch"] == 3 and (saved["batches"], saved["tokens"], saved["padded"]) == (1, 100, 120)
    untouched = BatchLog(1024, resumed=EpochBatches(**saved))  # resumed, then stopped before a step
    assert untouched.open_epoch() == saved
    second = BatchLog(1024, resumed=EpochBatches(**saved))
    second.add({"position": Position(3, 1), "global_size": 1, "tokens": 600, "padded_tokens": 600, "epoch_ends": False})
    third = BatchLog(1024, resumed=EpochBatches(**second.open_epoch()))
    whole = third.add({"position": Position(3, 2), "global_size": 4, "tokens": 200, "padded_tokens": 200, "epoch_ends": True})
    assert (whole.first, whole.batches, whole.samples, whole.ones, whole.alone, whole.longest_alone, whole.complete) == \
        (0, 3, 7, 1, 1, 600, True)
    assert abs(whole.figures()["padding"] - (1 - 900 / 920)) < 1e-12
    assert third.open_epoch() is None  # the next checkpoint begins a new epoch
    # a part that does not follow the one recorded (a plan changed) is not joined to it
    other = BatchLog(1024, resumed=EpochBatches(3, first=0, batches=1, samples=2, tokens=100, padded=120))
    alone = other.add({"position": Position(3, 5), "global_size": 2, "tokens": 80, "padded_tokens": 80, "epoch_ends": True})
    assert (alone.first, alone.batches) == (5, 1)
