"""`lumina sample` and `lumina evaluate` start from the same guidance and take the same flag, so a
checkpoint is judged at the scale it is sampled at."""

from __future__ import annotations

import pytest

import evaluation.sample
import flows.steps
from flows.cli import main
from modelzoo.transport.inference import DEFAULT_CFG_SCALE


@pytest.fixture
def seen(monkeypatch, tmp_path):
    """The configs the two commands would run with (their work replaced by recorders)."""
    got = {}
    monkeypatch.setattr(flows.steps, "resolve_checkpoint", lambda catalog, ckpt: ckpt)
    monkeypatch.setattr(evaluation.sample, "sample_to_files", lambda cfg: got.setdefault("sample", cfg) and [])
    monkeypatch.setattr(flows.steps, "evaluate_step", lambda home, cfg: got.setdefault("evaluate", cfg) and {})
    home = ["--home", str(tmp_path)]
    return got, home


def test_sample_and_evaluate_default_to_one_guidance_scale(seen):
    got, home = seen
    assert main(["sample", *home, "--checkpoint", "c", "--prompt", "a red circle"]) == 0
    assert main(["evaluate", *home, "--checkpoint", "c", "--manifest", "m"]) == 0
    assert got["sample"].cfg == got["evaluate"].cfg_scale == DEFAULT_CFG_SCALE == 4.0


@pytest.mark.parametrize("flag", ["--cfg", "--cfg-scale"])
def test_sample_takes_evaluates_flag_too(seen, flag):
    got, home = seen
    assert main(["sample", *home, "--checkpoint", "c", "--prompt", "p", flag, "6.5"]) == 0
    assert main(["evaluate", *home, "--checkpoint", "c", "--manifest", "m", "--cfg-scale", "6.5"]) == 0
    assert got["sample"].cfg == got["evaluate"].cfg_scale == 6.5
