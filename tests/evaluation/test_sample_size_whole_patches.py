"""lumina sample --size whose latent the checkpoint's patches do not divide is refused for every
modality, by latent_shape (an image checkpoint of patch 2 wrote a 7x7 PNG without a word: the model
zero-pads the latent to whole patches and crops the pad off)."""

from __future__ import annotations

import json

import pytest

from evaluation.sample import latent_shape


def test_an_image_size_the_patches_do_not_divide_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"patch_size": 2}))
    (tmp_path / "latent_encoder.json").write_text(json.dumps({"name": "identity", "downsample": 1}))
    (tmp_path / "training.json").write_text(json.dumps({"modality": "image", "latent_shape": [3, 1, 32, 32]}))
    with pytest.raises(ValueError, match=r"^--size must be a multiple of 2x2 pixels .* got '7x7': 6x6 or 8x8$"):
        latent_shape(tmp_path, "7x7", None)
    assert latent_shape(tmp_path, "8x6", None) == [3, 1, 8, 6]
