"""--resume compares the model a train.yaml describes with the checkpoint's, not the override dicts
as written: a default spelled out (qk_norm: layernorm), patch_size 2 written [2, 2], or
grad_checkpointing added (a memory setting) was refused as "describes another model"; a real
difference is refused naming the fields that differ."""

from __future__ import annotations

import json

import pytest

from training.resume_config import resumed_config
from training.trainer import TrainConfig

SAVED = {"manifest": "digits", "manifest_version": 1, "model": "flag-dit-tiny",
         "model_overrides": {"dim": 32, "n_layers": 1, "n_heads": 2}}


def checkpoint(tmp_path):
    ckpt = tmp_path / "checkpoint-0000010"
    ckpt.mkdir()
    (ckpt / "training.json").write_text(json.dumps({"train_config": SAVED}))
    return ckpt


def given(overrides: dict, model: str = "flag-dit-tiny") -> TrainConfig:
    return TrainConfig(manifest="digits", resume=True, model=model, model_overrides=overrides,
                       given=("manifest", "resume", "model", "model_overrides"))


@pytest.mark.parametrize("overrides", [
    {"n_heads": 2, "dim": 32, "n_layers": 1, "qk_norm": "layernorm"},
    {"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": [2, 2]},
    {"dim": 32, "n_layers": 1, "n_heads": 2, "grad_checkpointing": True},
])
def test_the_same_model_written_otherwise_continues_with_the_users_overrides(tmp_path, overrides):
    cfg = resumed_config(given(overrides), checkpoint(tmp_path))
    assert cfg.model_overrides == overrides  # kept: grad_checkpointing there reaches the model


def test_another_model_is_refused_naming_what_differs(tmp_path):
    ckpt = checkpoint(tmp_path)
    with pytest.raises(ValueError) as e:
        resumed_config(given({"dim": 64, "n_layers": 1, "n_heads": 2, "patch_size": [1, 2]}), ckpt)
    assert str(e.value) == (f'--resume: {ckpt} holds a flag-dit-tiny with overrides {{"dim": 32, "n_layers": 1, "n_heads": 2}}; '
                            '--model-overrides {"dim": 64, "n_layers": 1, "n_heads": 2, "patch_size": [1, 2]} describes '
                            "another model (patch_size [1, 2], dim 64; the checkpoint's: patch_size [2, 2], dim 32; leave it "
                            "out to continue)")
