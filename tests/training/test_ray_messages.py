"""`lumina train --launcher ray`: the driver shows rank 0's `training` messages (the epoch lines, the
batch warnings, the --resume lines, the window lines with --no-progress), once each, in order, the last
ones too, and not an earlier launch's into the same run folder. Ray does not forward the workers'
output (log_to_driver off), so before they were never seen."""

from __future__ import annotations

import logging
import threading
import time
import warnings

import pytest

from contracts.messages import RecordsToFile, ReplayedRecords
from tests.training.conftest import ray_cluster_group
from training.monitor import FIELDS
from training.ray_launcher import MESSAGES_FILE, follow_progress, rank_0_messages
from training.trainer import TrainConfig

TINY = {"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4}


def record(name: str, level: int, msg: str, *args) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 0, msg, args, None)


def said(caplog) -> list[tuple[str, str, str]]:
    return [(r.name, r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("training.")]


def test_only_this_launchs_records_come_back_once_in_order(tmp_path, caplog):
    path = tmp_path / MESSAGES_FILE
    earlier = RecordsToFile(path, "earlier")
    earlier.handle(record("training.trainer", logging.INFO, "epoch 0: of the run being resumed"))
    earlier.close()
    replay = ReplayedRecords(path, "now")  # as the driver makes it, before its workers start
    writer = RecordsToFile(path, "now")
    other = RecordsToFile(path, "another launch")  # a second launch refused the folder's lock
    with caplog.at_level(logging.INFO, logger="training"):
        writer.handle(record("training.trainer", logging.INFO, "--resume: continuing %s", "ckpt"))
        other.handle(record("training.trainer", logging.INFO, "not ours"))
        writer.handle(record("training.trainer", logging.WARNING, "2 of 3 batches held one sample each (100% [PAD])"))
        with open(path, "a") as f:
            f.write('{"tag": "now", "name": "training.trainer", "levelno": 20, "mess')  # still being written
        assert replay.replay() == 2
        with open(path, "a") as f:
            f.write('age": "the rest came later"}\n')
        writer.handle(record("training.monitor", logging.INFO, "epoch 1: %d batches", 3))
        assert replay.replay() == 2 and replay.replay() == 0
    writer.close()
    other.close()
    assert said(caplog) == [("training.trainer", "INFO", "--resume: continuing ckpt"),
                            ("training.trainer", "WARNING", "2 of 3 batches held one sample each (100% [PAD])"),
                            ("training.trainer", "INFO", "the rest came later"),
                            ("training.monitor", "INFO", "epoch 1: 3 batches")]


def test_a_replayed_info_line_shows_only_where_training_shows_info(tmp_path, caplog):
    """Replayed through the logger of the same name here: its level decides, as for the driver's own."""
    path = tmp_path / MESSAGES_FILE
    replay, writer = ReplayedRecords(path, "t"), RecordsToFile(path, "t")
    writer.handle(record("training.trainer", logging.INFO, "epoch 0: 3 batches"))
    writer.handle(record("training.trainer", logging.WARNING, "a warning"))
    writer.close()
    caplog.set_level(logging.WARNING)
    assert replay.replay() == 2
    assert said(caplog) == [("training.trainer", "WARNING", "a warning")]


def test_rank_0_writes_its_training_messages_without_the_window_lines_the_bar_shows(tmp_path):
    import json

    trainer, outside = logging.getLogger("training.trainer"), logging.getLogger("catalog")
    level, shown = logging.getLogger("training").level, warnings.showwarning
    window = "step %d/%d  loss %.4f  grad norm %.3g  lr %.3g  %.0f tokens/s  [PAD] %.1f%%"
    for window_lines, out in ((False, tmp_path / "bar"), (True, tmp_path / "no-bar")):
        with rank_0_messages(str(out), "t", window_lines=window_lines):
            trainer.debug("not shown by a local run either")
            trainer.info(window, 2, 4, 1.5, 0.5, 1e-3, 100, 0.0)
            trainer.info("epoch 0: 3 batches")
            logging.getLogger("training.stream").warning("a warning")
            outside.warning("not training's")
            with warnings.catch_warnings():
                warnings.simplefilter("always")
                warnings.warn("patch_dim 48 is larger than dim 32", UserWarning)  # a local run prints it on stderr
        trainer.info("after the run")
        lines = [json.loads(x) for x in (out / MESSAGES_FILE).read_text().splitlines()]
        assert lines[-1]["name"] == "py.warnings" and lines[-1]["levelname"] == "WARNING", lines
        assert "UserWarning: patch_dim 48 is larger than dim 32" in lines[-1]["message"], lines
        lines = lines[:-1]
        expected = ["epoch 0: 3 batches", "a warning"]
        if window_lines:
            expected.insert(0, "step 2/4  loss 1.5000  grad norm 0.5  lr 0.001  100 tokens/s  [PAD] 0.0%")
        assert [x["message"] for x in lines] == expected and {x["tag"] for x in lines} == {"t"}
    assert logging.getLogger("training").level == level  # the worker's logger as it was
    assert not [h for h in logging.getLogger("training").handlers if isinstance(h, RecordsToFile)]
    assert not [h for h in logging.getLogger("py.warnings").handlers if isinstance(h, RecordsToFile)]
    assert warnings.showwarning is shown  # warnings shown as before the run (not captured)


def test_rank_0_puts_back_the_warnings_display_it_found(tmp_path):
    """Warnings captured already (logging.captureWarnings) stay captured after the run."""
    import json

    logging.captureWarnings(True)
    try:
        captured = warnings.showwarning
        with rank_0_messages(str(tmp_path), "t", window_lines=False):
            with warnings.catch_warnings():
                warnings.simplefilter("always")
                warnings.warn("captured twice", UserWarning)
        assert warnings.showwarning is captured
    finally:
        logging.captureWarnings(False)
    lines = [json.loads(x) for x in (tmp_path / MESSAGES_FILE).read_text().splitlines()]
    assert [x["name"] for x in lines] == ["py.warnings"] and "UserWarning: captured twice" in lines[0]["message"]


def test_the_driver_shows_rank_0s_messages_as_they_come_and_the_last_ones_at_the_end(tmp_path, capsys, caplog):
    """A thread plays rank 0 (metrics.csv rows and its messages); the driver's follower looks every
    0.05 s; the last message comes right before the workers end, between two looks."""
    out = tmp_path
    replay = ReplayedRecords(out / MESSAGES_FILE, "t")
    writer = RecordsToFile(out / MESSAGES_FILE, "t")
    seen_early = []

    def rank_0():
        (out / "metrics.csv").write_text(",".join(FIELDS) + "\n")
        for step in (1, 2):
            with open(out / "metrics.csv", "a") as f:
                f.write(f"{step},0.5,1,0.001,10,0,8,{step}\n")
            writer.handle(record("training.trainer", logging.INFO, "epoch %d: 1 batch", step - 1))
            time.sleep(0.3)
        seen_early.extend(said(caplog))
        writer.handle(record("training.trainer", logging.INFO, "epoch 2, batch 0 (so far)"))

    with caplog.at_level(logging.INFO, logger="training"):
        with follow_progress(TrainConfig(out_dir=str(out), steps=2, log_every=1), every_s=0.05, messages=replay):
            t = threading.Thread(target=rank_0)
            t.start()
            t.join()
    writer.close()
    lines = [m for _, _, m in said(caplog)]
    assert lines == ["epoch 0: 1 batch", "epoch 1: 1 batch", "epoch 2, batch 0 (so far)"]
    assert [m for _, _, m in seen_early] == lines[:2]  # shown while training, not all at the end
    assert "2/2" in capsys.readouterr().err


@pytest.mark.slow
@ray_cluster_group
def test_a_resumed_ray_run_shows_rank_0s_messages_once(tiny_home, tmp_path, capsys, caplog, ray_address, monkeypatch):
    """--resume --launcher ray --no-progress with two Ray Train workers (the shared private cluster)
    into a run folder whose messages file holds an earlier launch's: the --resume lines, the window
    lines and the epoch lines as a local run shows them, the last one (said as the run ends) too,
    each once, and none of the earlier launch's. (The run's first 4 steps: local, to save a launch.)"""
    import ray

    from tests.training.test_distributed import RAY_TRAIN_TEST_ENV
    from training.ray_launcher import train_with_ray
    from training.trainer import train

    for k, v in RAY_TRAIN_TEST_ENV.items():
        monkeypatch.setenv(k, v)
    opts = dict(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                out_dir=str(tmp_path / "run"), model_overrides=TINY, batch_size=64, log_every=2, num_threads=1,
                progress=False, tensorboard=False)
    train(TrainConfig(steps=4, **opts))
    earlier = RecordsToFile(tmp_path / "run" / MESSAGES_FILE, "an earlier launch")
    earlier.handle(record("training.trainer", logging.INFO, "epoch 0: of the earlier launch"))
    earlier.close()
    caplog.clear()
    try:
        with caplog.at_level(logging.INFO, logger="training"):
            train_with_ray(TrainConfig(steps=6, resume=True, launcher="ray", workers=2, **opts))
    finally:
        ray.shutdown()
    lines = [m for _, _, m in said(caplog)]
    assert [ln.split(":")[0].split("  ")[0] for ln in lines] == [
        "--resume with changed settings", "--resume", "--resume", "step 6/6", "epoch 1, batches 1-2"], lines
    assert "from step 4 (epoch 1, 1 of its batches done)" in lines[1]
    assert lines[2].startswith("--resume: the run trained on 1 process(es) up to step 4 and goes on with 2")  # local, then 2 workers
    assert capsys.readouterr().err == ""  # no bar, and nothing printed beside the log
