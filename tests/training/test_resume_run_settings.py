"""A bare --resume continues the run as it ran (threads, FSDP, async checkpoints, ...), says so once,
and the options a run checks up front: --max-seconds must be positive as --steps must."""

import io
import json
import logging
import sys

import pytest
import torch

from training.resume_config import resumed_config
from training.stopping import write_stop_file
from training.trainer import TrainConfig, train

from .test_mutation_killers_resume_config import checkpoint, cli
from .test_trainer import tiny_cfg


def _bare_resume(tiny_home, out, **given) -> TrainConfig:
    """What `lumina train --resume --out-dir OUT` hands the trainer: only what it was given, recorded as given."""
    return TrainConfig(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, out_dir=str(out),
                       null_caption=tiny_home.null_caption, resume=True, progress=False,
                       given=("manifest", "out_dir", "resume", "progress", *given), **given)


def test_a_bare_resume_trains_on_the_runs_threads(tiny_home, tmp_path):
    before = torch.get_num_threads()
    try:
        train(tiny_cfg(tiny_home, tmp_path, steps=2, num_threads=1))
        torch.set_num_threads(2)  # torch's default on this machine; a bare --resume trained on it
        r = train(_bare_resume(tiny_home, tmp_path, steps=3))
        assert torch.get_num_threads() == 1
        assert json.loads((tmp_path / "checkpoint-0000003" / "training.json").read_text())["train_config"]["num_threads"] == 1
        assert r.steps == 3
    finally:
        torch.set_num_threads(before)


def test_a_bare_resume_of_an_fsdp_run_with_async_checkpoints_goes_on_as_it_ran(tiny_home, tmp_path):
    train(tiny_cfg(tiny_home, tmp_path, steps=2, parallel="fsdp", async_checkpoint=True, loader_workers=1,
                   tensorboard=True))
    r = train(_bare_resume(tiny_home, tmp_path, steps=3))
    saved = json.loads((tmp_path / "checkpoint-0000003" / "training.json").read_text())["train_config"]
    assert (saved["parallel"], saved["async_checkpoint"], saved["loader_workers"], saved["tensorboard"]) == ("fsdp", True, 1, True)
    assert (tmp_path / "checkpoint-0000003" / "train_state").is_dir()  # written shard by shard, as an FSDP2 run's
    assert r.steps == 3


def test_a_setting_given_with_the_resume_is_kept(tiny_home, tmp_path):
    ckpt = checkpoint(tmp_path, {"parallel": "fsdp", "async_checkpoint": True, "num_threads": 1})
    cfg = resumed_config(cli(parallel="ddp", num_threads=2), ckpt)
    assert (cfg.parallel, cfg.num_threads, cfg.async_checkpoint) == ("ddp", 2, True)


def test_only_the_announcing_rank_says_which_settings_it_adopted_or_which_changed(tmp_path, caplog):
    ckpt = checkpoint(tmp_path, {"parallel": "fsdp", "lr": 2e-3})
    with caplog.at_level(logging.INFO, logger="training.resume_config"):
        quiet = resumed_config(cli(lr=1e-3), ckpt, announce=False)  # torchrun's other ranks
        assert caplog.text == ""
        loud = resumed_config(cli(lr=1e-3), ckpt)
    assert quiet == loud and quiet.parallel == "fsdp"
    assert "the run's own settings for what was not given: parallel='fsdp'" in caplog.text
    assert "--resume with changed settings: lr 0.002 -> 0.001" in caplog.text


@pytest.mark.parametrize("seconds", [0, -5, 0.0])
def test_max_seconds_must_be_positive_as_steps_must(seconds):
    with pytest.raises(ValueError, match=rf"max_seconds must be positive \(or unset: no time limit\); got {seconds}"):
        TrainConfig(max_seconds=seconds)
    assert TrainConfig(max_seconds=0.5).max_seconds == 0.5


def test_the_stop_warning_is_printed_above_the_progress_bar_not_on_its_line(tiny_home, tmp_path, monkeypatch):
    console = io.StringIO()
    monkeypatch.setattr(sys, "stderr", console)  # the bar and the command lines' handler both write here
    handler = logging.StreamHandler(sys.stderr)
    logger = logging.getLogger("training")
    logger.addHandler(handler)
    monkeypatch.setattr(logger, "level", logging.INFO)
    try:
        write_stop_file(tmp_path)
        r = train(tiny_cfg(tiny_home, tmp_path, steps=4, progress=True))
        assert logger.handlers[-1] is handler  # the console handler is back once the bar is gone
        assert not [h for h in logger.handlers + logging.getLogger().handlers if "Tqdm" in type(h).__name__]
    finally:
        logger.removeHandler(handler)
    assert r.stopped_by == "SIGTERM" and r.steps == 1
    text = console.getvalue()
    before, _, _ = text.partition("stop requested (")
    assert "train:" in before and before[-1] in "\r\n", repr(text[:400])  # the bar's line was cleared first
