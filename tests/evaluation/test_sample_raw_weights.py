"""`lumina sample --weights raw` samples the raw weights a checkpoint keeps for resuming (its
train_state.safetensors), not the published EMA ones; a checkpoint without them says so in one line."""

from __future__ import annotations

import shutil

import pytest
import torch

from evaluation.evaluate import load_checkpoint
from evaluation.sample import SampleConfig, sample_to_files


def test_raw_loads_the_resume_states_model_weights(tiny_checkpoint):
    from training.state import read_state

    raw, _ = load_checkpoint(tiny_checkpoint, weights="raw")
    ema, _ = load_checkpoint(tiny_checkpoint)
    saved = {k.removeprefix("model."): v for k, v in read_state(tiny_checkpoint)[0].items() if k.startswith("model.")}
    got = raw.state_dict()
    assert saved.keys() == got.keys() and all(torch.equal(got[k], saved[k]) for k in saved)
    assert any(not torch.equal(got[k], v) for k, v in ema.state_dict().items())  # one step of EMA: not the same


def test_sample_with_the_raw_weights(tiny_checkpoint, tmp_path):
    out = sample_to_files(SampleConfig(checkpoint=str(tiny_checkpoint), prompt="digit 3", out=str(tmp_path / "s.png"),
                                       steps=1, weights="raw"))
    assert [p.name for p in out] == ["s.png"]


def test_a_checkpoint_without_them_says_so(tiny_checkpoint, tmp_path):
    bare = shutil.copytree(tiny_checkpoint, tmp_path / "checkpoint-0000001")
    (bare / "train_state.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"^--weights raw: .* has no train_state.safetensors, .*sample its EMA "
                                                r"weights \(--weights ema\)$"):
        load_checkpoint(bare, weights="raw")


def test_an_unknown_choice_is_refused():
    with pytest.raises(ValueError, match="^--weights must be one of ema, raw; got 'best'$"):
        SampleConfig(checkpoint="c", prompt="p", weights="best")
