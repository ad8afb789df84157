"""A bare --resume of a Ray Train run launches its workers again; its workers record launched_by
"ray" (they train with launcher local, so the run's own launcher was lost and it trained on in one process)."""

from __future__ import annotations

import json
import logging

import pytest

from training.resume_config import resumed_launcher
from training.trainer import TrainConfig


def _checkpoint(tmp_path, **saved):
    ckpt = tmp_path / "checkpoint-0000010"
    ckpt.mkdir()
    (ckpt / "training.json").write_text(json.dumps({"train_config": {"launcher": "local", **saved}}))
    return ckpt


def test_the_ray_workers_record_who_launched_them():
    from training.ray_launcher import _worker_config

    worker = _worker_config(TrainConfig(launcher="ray", workers=3, given=("launcher", "workers")))
    assert (worker.launcher, worker.launched_by, worker.workers) == ("local", "ray", 3)


def test_a_bare_resume_of_a_ray_run_launches_its_workers_again(tmp_path, caplog):
    ckpt = _checkpoint(tmp_path, launched_by="ray", workers=3)
    cfg = TrainConfig(resume=True, given=("resume",))
    with caplog.at_level(logging.INFO, logger="training.resume_config"):
        resumed_launcher(cfg, ckpt)
    assert (cfg.launcher, cfg.workers) == ("ray", 3)
    assert "the run trained in 3 Ray Train workers: launching them again" in caplog.text


@pytest.mark.parametrize("given, saved, expected", [
    (("resume", "launcher"), {"launched_by": "ray", "workers": 3}, ("local", 2)),  # --launcher local: one process
    (("resume", "launcher", "workers"), {"launched_by": "ray", "workers": 3}, ("ray", 2)),  # as given
    (("resume",), {"workers": 3}, ("local", 2)),  # a local or torchrun run
])
def test_a_given_launcher_or_workers_and_local_runs_are_kept(tmp_path, given, saved, expected):
    cfg = TrainConfig(resume=True, workers=2, launcher="ray" if "workers" in given else "local", given=given)
    resumed_launcher(cfg, _checkpoint(tmp_path, **saved))
    assert (cfg.launcher, cfg.workers) == expected


def test_launched_by_is_no_flag():
    from flows.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--launched-by", "ray", "--manifest", "x"])
