"""FlagDiTConfig refuses real-valued fields no model trains with, naming the field. Before,
rope_theta 0 (or negative) and norm_eps -1 trained with every step's loss NaN (each update skipped,
the samples blamed), ffn_dim_multiplier -1 or 0 ended in a RuntimeError traceback building the FFN,
and time_scale 0 trained a model blind to the timestep without a word."""

from __future__ import annotations

import math

import pytest

from modelzoo.config import CONFIGS, FlagDiTConfig
from training.config import TrainConfig


@pytest.mark.parametrize("field,value,said", [
    ("rope_theta", 0, "rope_theta must be positive and finite, got 0"),
    ("rope_theta", -5.0, "rope_theta must be positive and finite, got -5.0"),
    ("rope_theta", math.nan, "rope_theta must be positive and finite, got nan"),
    ("time_scale", 0, "time_scale must be positive and finite, got 0"),
    ("norm_eps", -1, "norm_eps must be at least 0 and finite, got -1"),
    ("ffn_dim_multiplier", 0, "ffn_dim_multiplier must be positive (or null: 1) and finite, got 0"),
    ("ffn_dim_multiplier", -1, "ffn_dim_multiplier must be positive (or null: 1) and finite, got -1"),
    ("class_dropout_prob", 2, "class_dropout_prob must be between 0 and 1 and finite, got 2"),
    ("train_seq_len", 0, "train_seq_len must be a positive whole number (or null), got 0"),
])
def test_refused_naming_the_field(field, value, said):
    with pytest.raises(ValueError) as e:
        FlagDiTConfig(**{field: value})
    assert str(e.value) == said


def test_lumina_train_refuses_them_before_the_run():
    with pytest.raises(ValueError, match=r"model_overrides .*: rope_theta must be positive and finite, got 0$"):
        TrainConfig(manifest="m", model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "rope_theta": 0})


def test_the_presets_and_the_public_conventions_pass():
    for config in CONFIGS.values():
        FlagDiTConfig.from_dict(config.to_dict())
    FlagDiTConfig(time_scale=1.0, norm_eps=1e-6, ffn_dim_multiplier=1.3, class_dropout_prob=0.0, train_seq_len=4096)
    FlagDiTConfig(norm_eps=0, ffn_dim_multiplier=None, class_dropout_prob=1)
