"""--resume with --model-overrides but no --model: the model compared with the checkpoint's is the
run's own preset with those overrides (the preset is taken from the run, as every setting left out
is). It was the default preset's: a flag-dit-s run resumed with its own overrides and a default
spelled out was refused as "describes another model (dim 64, n_heads 4, multiple_of 32; the
checkpoint's: dim 384, n_heads 6, multiple_of 256)", fields no flag had asked for."""

from __future__ import annotations

import json

import pytest

from training.resume_config import resumed_config
from training.trainer import TrainConfig

SAVED = {"manifest": "digits", "manifest_version": 1, "model": "flag-dit-s", "model_overrides": {"n_layers": 2}}


def checkpoint(tmp_path):
    ckpt = tmp_path / "checkpoint-0000010"
    ckpt.mkdir()
    (ckpt / "training.json").write_text(json.dumps({"train_config": SAVED}))
    return ckpt


def overrides_only(overrides: dict) -> TrainConfig:
    return TrainConfig(manifest="digits", resume=True, model_overrides=overrides,
                       given=("manifest", "resume", "model_overrides"))


def test_the_runs_own_model_spelled_otherwise_continues_on_its_preset(tmp_path):
    cfg = resumed_config(overrides_only({"n_layers": 2, "qk_norm": "layernorm"}), checkpoint(tmp_path))
    assert (cfg.model, cfg.model_overrides) == ("flag-dit-s", {"n_layers": 2, "qk_norm": "layernorm"})


def test_another_model_is_refused_naming_only_what_the_overrides_change(tmp_path):
    with pytest.raises(ValueError, match=r"describes another model \(n_layers 3; the checkpoint's: n_layers 2; leave"):
        resumed_config(overrides_only({"n_layers": 3}), checkpoint(tmp_path))
