"""`lumina sample --size` on a video checkpoint refuses a size its patches do not divide, before any
model loads: 7x7 (and 1x1) on patch 2 with identity latents came out without a word, the model having
zero-padded the latent to whole patches, a border no training clip had (helper H, session 52)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from evaluation.sample import latent_shape  # lumina sample's size check, for every modality
from evaluation.video.sample import prepare


@pytest.fixture
def video_ckpt(tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(json.dumps({"patch_size": 2}))
    (ckpt / "latent_encoder.json").write_text(json.dumps({"name": "identity", "downsample": 1}))
    (ckpt / "training.json").write_text(json.dumps({"modality": "video", "latent_shape": [3, 8, 28, 36]}))
    return ckpt


@pytest.mark.parametrize("size, offered", [("7x7", "6x6 or 8x8"), ("1x1", "2x2"), ("8x9", "8x8 or 8x10")])
def test_a_size_the_patches_do_not_divide_is_refused_with_the_sizes_near_it(video_ckpt, size, offered):
    with pytest.raises(ValueError) as e:
        latent_shape(video_ckpt, size, None)
    assert str(e.value).startswith("--size must be a multiple of 2x2 pixels") and str(e.value).endswith(f"got {size!r}: {offered}")


def test_whole_patches_and_no_size_pass(video_ckpt):
    assert latent_shape(video_ckpt, "8x10", None) == [3, 8, 8, 10]
    assert prepare(SimpleNamespace(size="8x10", frames=None), video_ckpt, [3, 8, 8, 10])[0] == [3, 8, 8, 10]
    assert prepare(SimpleNamespace(size=None, frames=None), video_ckpt, [3, 8, 28, 36])[0] == [3, 8, 28, 36]


def test_a_vae_checkpoint_names_sizes_in_pixels(video_ckpt):
    (video_ckpt / "latent_encoder.json").write_text(json.dumps({"name": "sd15", "downsample": 8}))
    (video_ckpt / "config.json").write_text(json.dumps({"patch_size": [1, 2]}))
    with pytest.raises(ValueError, match=r"multiple of 8x16 pixels .* got '24x24': 24x16 or 24x32$"):
        latent_shape(video_ckpt, "24x24", None)


def test_the_command_says_it_in_one_line_before_any_model_loads(video_ckpt, tmp_path, capsys):
    from flows.cli import main

    rc = main(["sample", "--home", str(tmp_path / "home"), "--checkpoint", str(video_ckpt), "--prompt", "a red square",
               "--size", "7x7", "--out", str(tmp_path / "clip.mp4")])
    err = capsys.readouterr().err
    assert rc == 2 and "--size must be a multiple of 2x2 pixels" in err and "got '7x7': 6x6 or 8x8" in err, err
    assert not (tmp_path / "clip.mp4").exists()
