"""`lumina sample --size` on a multi-view checkpoint refuses a size its patches do not divide, before any
model loads: 30x30 on patch 4 came out without a word, the model zero-padding each view's latent to whole
patches, a border no curated view had (helper H, session 52)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from evaluation.multiview.sample import prepare
from evaluation.sample import latent_shape
from evaluation.multiview.sample_flags import MultiviewSampleOptions


@pytest.fixture
def ckpt(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"patch_size": 4}))
    (folder / "latent_encoder.json").write_text(json.dumps({"name": "identity", "downsample": 1}))
    (folder / "training.json").write_text(json.dumps({"modality": "multiview", "latent_shape": [3, 4, 16, 16]}))
    return folder


def _cfg(size):
    return SimpleNamespace(size=size, frames=None, num=1, catalog=None)


def test_a_size_the_patches_do_not_divide_is_refused(ckpt):
    with pytest.raises(ValueError, match=r"^--size must be a multiple of 4x4 pixels .* got '30x30': 28x28 or 32x32$"):
        latent_shape(ckpt, "30x30", None)  # lumina sample's size check, for every modality


def test_whole_patches_sample(ckpt):
    assert latent_shape(ckpt, "32x32", None) == [3, 4, 32, 32]
    shape, extra = prepare(_cfg("32x32"), ckpt, [3, 4, 32, 32], MultiviewSampleOptions(elevation=20.0, radius=1.0))
    assert shape == [3, 4, 32, 32] and tuple(extra["frame_cond"].shape[:2]) == (1, 4)
