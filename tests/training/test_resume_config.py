"""--resume: which settings come from the checkpoint and which from the user."""

from __future__ import annotations

import argparse
import json

from flows.cli_config import add_common_args, add_config_args, config_from_args
from training.resume_config import resumed_config
from training.trainer import TrainConfig

SAVED = {"manifest": "digits", "manifest_version": 1, "lr": 2e-3, "tokens_per_batch": 320, "seed": 5, "batch_size": 6}


def checkpoint(tmp_path):
    ckpt = tmp_path / "checkpoint-0000002"
    ckpt.mkdir()
    (ckpt / "training.json").write_text(json.dumps({"train_config": SAVED}))
    return ckpt


def from_cli(*argv: str) -> TrainConfig:
    p = argparse.ArgumentParser()
    add_common_args(p)
    add_config_args(p, TrainConfig)
    return config_from_args(TrainConfig, p.parse_args(["--manifest", "digits", "--resume", *argv]))


def test_a_setting_given_at_its_default_value_is_not_replaced_by_the_saved_one(tmp_path):
    """`--resume --tokens-per-batch none` (drop the saved budget) and `--lr 0.001` (the default)
    looked like flags not given, so the run went on with the saved budget and rate."""
    ckpt = checkpoint(tmp_path)
    cfg = resumed_config(from_cli("--tokens-per-batch", "none", "--lr", "0.001"), ckpt)
    assert (cfg.tokens_per_batch, cfg.lr) == (None, 1e-3)  # given: the user's
    assert (cfg.seed, cfg.batch_size) == (5, 6)  # not given: the run's own


def test_settings_in_a_config_file_count_as_given(tmp_path):
    ckpt = checkpoint(tmp_path)
    (tmp_path / "c.yaml").write_text("seed: 0\n")
    cfg = resumed_config(from_cli("--config", str(tmp_path / "c.yaml"), "--set", "batch_size=64"), ckpt)
    assert (cfg.seed, cfg.batch_size, cfg.lr) == (0, 64, 2e-3)


def test_a_library_call_without_the_record_adopts_what_is_left_at_the_default(tmp_path):
    cfg = resumed_config(TrainConfig(manifest="digits", resume=True, lr=1e-3, seed=7), checkpoint(tmp_path))
    assert (cfg.lr, cfg.seed, cfg.tokens_per_batch) == (2e-3, 7, 320)
