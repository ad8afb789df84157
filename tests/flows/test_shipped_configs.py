"""The shipped demo configs build models the model's own checks accept without a warning."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

from modelzoo.config import get_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_a_shipped_config_builds_a_model_without_warnings(path):
    """The multi-view and video smoke configs built 32-wide models for 48-value patches: every run
    warned that its samples stay noisy."""
    cfg = yaml.safe_load(path.read_text())
    channels = {"speech": 80}.get(cfg.get("modality"), 4 if "vae" in str(cfg.get("encode_options", {})) else 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_config(cfg.get("model", "flag-dit-tiny"), in_channels=channels, **(cfg.get("model_overrides") or {}))
