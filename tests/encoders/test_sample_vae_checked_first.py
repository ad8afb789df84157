"""lumina sample --vae PATH holding another VAE than the checkpoint's is refused before the sampling.

The fingerprint of the VAE was checked where it decodes, after every sampling step: a user who gave
the SDXL VAE for an SD1.5 checkpoint waited through the whole sampling (minutes for a large model)
for the one-line refusal (walkthrough 2026-12-07: the sampling bar ran, then the line)."""

from __future__ import annotations

import json
import shutil

import pytest


@pytest.fixture()
def checkpoint_of_another_vae(tiny_checkpoint, tmp_path):
    """The tiny checkpoint, its latents recorded as made by an SD1.5 VAE whose fingerprint no VAE has."""
    from diffusers import AutoencoderKL

    vae = tmp_path / "vae"
    AutoencoderKL(block_out_channels=[8, 8], down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                  norm_num_groups=4, layers_per_block=1).save_pretrained(vae)
    ckpt = tmp_path / tiny_checkpoint.name
    shutil.copytree(tiny_checkpoint, ckpt)
    info = {"name": "sd15", "path": str(vae), "options": {}, "fingerprint": "sd15@0000000000000000", "downsample": 1}
    (ckpt / "latent_encoder.json").write_text(json.dumps(info))
    return ckpt, vae


def test_a_vae_of_another_fingerprint_is_refused_before_any_sampling_step(checkpoint_of_another_vae, tmp_path, monkeypatch):
    import modelzoo
    from evaluation.sample import SampleConfig, sample_to_files

    ckpt, vae = checkpoint_of_another_vae
    sampled = []
    monkeypatch.setattr(modelzoo, "sample", lambda *a, **k: sampled.append(1) or pytest.fail("sampled before the VAE was checked"))
    with pytest.raises(ValueError, match=r"is sd15@[0-9a-f]{16}, but the latents were made by sd15@0000000000000000"):
        sample_to_files(SampleConfig(checkpoint=str(ckpt), prompt="digit 3", out=str(tmp_path / "s.png"), steps=1, vae=str(vae)))
    assert sampled == []
    assert not (tmp_path / "s.png").exists()
