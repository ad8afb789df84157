"""`lumina sample --size` beyond the checkpoint's training size samples with the papers' RoPE
scaling (auto: time-aware, with proportional attention) and says so once; within it, or with
--extrapolation none, the model runs as trained. It was never passed an Extrapolation."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch

from evaluation.sample import SampleConfig, choose_extrapolation
from modelzoo.rope import Extrapolation, RopeScaling

NOTE = "evaluation.sample"


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoint) -> Path:
    return tiny_checkpoint


@pytest.fixture
def forwards(monkeypatch) -> list:
    """The `extrapolation` every FlagDiT forward receives."""
    from modelzoo import FlagDiT

    seen = []
    real = FlagDiT.forward

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("extrapolation"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(FlagDiT, "forward", spy)
    return seen


def _sample(checkpoint: Path, tmp_path: Path, **options) -> None:
    from evaluation.sample import sample_to_files

    sample_to_files(SampleConfig(checkpoint=str(checkpoint), prompt="digit 3", out=str(tmp_path / "s.png"), steps=2,
                                 **options))


def test_twice_the_training_size_samples_with_time_aware_scaling_and_says_so(checkpoint, tmp_path, forwards, caplog):
    from evaluation.evaluate import load_checkpoint

    model, _ = load_checkpoint(checkpoint)
    with caplog.at_level(logging.WARNING, logger=NOTE):
        _sample(checkpoint, tmp_path, size="64x64")
    assert forwards and all(e == forwards[0] for e in forwards)
    assert forwards[0] == Extrapolation(train_seq_len=model.seq_len((1, 32, 32)), rope=RopeScaling.TIME_AWARE,
                                        proportional_attn=True, train_size=(32, 32))
    notes = [r.getMessage() for r in caplog.records if r.name == NOTE]
    assert notes == ["64x64 is 4.0x the training area (32x32): sampling with time-aware scaled RoPE and proportional "
                     "attention (--extrapolation none samples as trained)"]


@pytest.mark.parametrize("options", [dict(size="32x32"), dict(size="16x16"), dict(), dict(size="64x64", extrapolation="none")])
def test_within_the_training_size_or_with_none_the_model_runs_as_trained(checkpoint, tmp_path, forwards, caplog, options):
    with caplog.at_level(logging.WARNING, logger=NOTE):
        _sample(checkpoint, tmp_path, **options)
    assert forwards and all(e is None for e in forwards)
    assert not [r for r in caplog.records if r.name == NOTE]


def test_scaling_changes_what_the_model_draws(checkpoint, tmp_path):
    """Same seed, 64x64: the default and --extrapolation none give different images."""
    import numpy as np
    from PIL import Image
    from safetensors.torch import load_file, save_file

    weights = checkpoint.parent / "random" / checkpoint.name  # a one-step model is nearly the identity: randomise it
    shutil.copytree(checkpoint, weights)
    state = load_file(weights / "model.safetensors")
    gen = torch.Generator().manual_seed(0)
    save_file({k: v + 0.3 * torch.randn(v.shape, generator=gen) for k, v in state.items()}, weights / "model.safetensors")
    # weights replaced on purpose: the checkpoint's checksum refuses them until its entry goes, as the refusal says
    info = json.loads((weights / "train_state.json").read_text())
    del info["checksums"]["model.safetensors"]
    (weights / "train_state.json").write_text(json.dumps(info))
    _sample(weights, tmp_path / "auto", size="64x64")
    _sample(weights, tmp_path / "none", size="64x64", extrapolation="none")
    auto, none = (np.asarray(Image.open(tmp_path / d / "s.png"), dtype=np.int16) for d in ("auto", "none"))
    assert np.abs(auto - none).max() > 0


def _tiny(rope: str):
    from modelzoo import FlagDiT, get_config

    return FlagDiT(get_config("flag-dit-tiny", cap_dim=8, in_channels=3, patch_size=4, rope=rope))


TRAINED_32 = [[3, 1, 32, 32]]


@pytest.mark.parametrize("rope", ["1d", "axial"])
def test_the_paper_s_1d_rope_and_the_axial_one_are_both_scaled(rope):
    model = _tiny(rope)
    got = choose_extrapolation(model, TRAINED_32, [3, 1, 64, 64], "auto")
    assert got.rope is RopeScaling.TIME_AWARE and got.train_seq_len == model.seq_len((1, 32, 32))
    assert got.train_size == (32, 32)


def test_a_named_scaling_is_used_beyond_and_said_to_do_nothing_within(caplog):
    model = _tiny("1d")
    with caplog.at_level(logging.WARNING, logger=NOTE):
        assert choose_extrapolation(model, TRAINED_32, [3, 1, 64, 32], "ntk").rope is RopeScaling.NTK
        assert choose_extrapolation(model, TRAINED_32, [3, 1, 32, 32], "ntk") is None
    notes = [r.getMessage() for r in caplog.records if r.name == NOTE]
    assert notes[0].startswith("64x32 is 2.0x the training area (32x32): sampling with NTK-aware scaled RoPE")
    assert notes[1] == "--extrapolation ntk: 32x32 is within the training size, so nothing is scaled"


def test_an_axial_model_is_scaled_along_the_one_axis_beyond_training():
    """16x64 has the training area but columns the model never saw."""
    model = _tiny("axial")
    assert choose_extrapolation(model, TRAINED_32, [3, 1, 16, 64], "auto") is not None
    assert choose_extrapolation(model, TRAINED_32, [3, 1, 28, 32], "auto") is None  # 7 rows of patches, within 8


def test_the_training_size_is_the_longest_of_the_trained_shapes():
    model = _tiny("axial")
    mixed = [[3, 1, 32, 32], [3, 1, 16, 48]]
    assert choose_extrapolation(model, mixed, [3, 1, 32, 48], "auto") is None  # 48 columns were trained on
    assert choose_extrapolation(model, mixed, [3, 1, 64, 64], "auto").train_size == (32, 48)


def test_the_trained_shapes_come_from_the_catalog_else_from_training_json(checkpoint, tmp_path):
    """training.json keeps only the 8 most common shapes: data of many sizes trained on longer ones."""
    from evaluation.sample import trained_shapes

    ckpt = Path(shutil.copytree(checkpoint, tmp_path / checkpoint.name))
    info = json.loads((ckpt / "training.json").read_text())
    (ckpt / "training.json").write_text(json.dumps({**info, "latent_shapes": [[[3, 1, 16, 16], 5], [[3, 1, 16, 8], 1]]}))
    assert trained_shapes(ckpt) == [[3, 1, 32, 32]]  # every training member, asked of the catalog it records
    away = str(tmp_path / "no_catalog_here.duckdb")
    assert trained_shapes(ckpt, away) == [[3, 1, 16, 16], [3, 1, 16, 8]]
    (ckpt / "training.json").write_text(json.dumps({k: v for k, v in info.items() if k != "latent_shapes"}))
    assert trained_shapes(ckpt, away) == [[3, 1, 32, 32]]  # written before latent_shapes was recorded: latent_shape


def test_an_unknown_choice_is_refused():
    with pytest.raises(ValueError, match="--extrapolation must be one of auto, none, interpolation, ntk, time_aware; got 'ntk2'"):
        SampleConfig(checkpoint="x", prompt="y", extrapolation="ntk2")


def test_the_command_line_offers_the_choices(capsys):
    from flows.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["sample", "--checkpoint", "x", "--prompt", "y", "--extrapolation", "yarn"])
    assert exited.value.code == 2
    assert "invalid choice: 'yarn' (choose from 'auto', 'none', 'interpolation', 'ntk', 'time_aware')" in capsys.readouterr().err
