"""Encoding warns when images were sized for another latent downsampling than the encoder's."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


def _workspace(tmp_path, vae_factor: int):
    from catalog import Catalog
    from contracts.layout import Workspace
    from preprocess.curate import CurateConfig, curate
    from preprocess.encode import EncodeConfig, encode

    src, home = tmp_path / f"src{vae_factor}", tmp_path / f"home{vae_factor}"
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):  # textured, so the quality filters accept them; 64 x 48 px
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(src / f"img{i}.png")
        (src / f"img{i}.txt").write_text(f"random texture number {i}")
    curated = curate(str(src), home, CurateConfig(options={"vae_factor": vae_factor, "max_tokens": 64}), backend="local")
    encoded = encode(home, "image", EncodeConfig(), backend="local")  # identity latents: 1x
    with Catalog.open(home / "catalog.duckdb") as cat:
        run = cat.start_run("test", {})
        cat.register_batches([*curated.batch_paths, *encoded.batch_paths], run)
        cat.finish_run(run)
    return Workspace.at(home), encoded.latent_encoder, curated.counts["accepted"]


@pytest.mark.parametrize("vae_factor, warned", [(8, True), (1, False)])
def test_images_sized_for_an_8x_vae_and_encoded_as_pixels_are_flagged(tmp_path, caplog, vae_factor, warned):
    """README's chain: curate (default --vae-factor 8) then encode (default identity) gave each
    image up to 64x the --max-tokens budget, without a word."""
    from flows.steps import warn_if_curated_for_another_latent

    ws, latent, accepted = _workspace(tmp_path, vae_factor)
    assert accepted == 4
    with caplog.at_level("WARNING", logger="flows.steps"):
        n = warn_if_curated_for_another_latent(ws, "image", latent)
    assert n == (4 if warned else 0)
    assert ("sized for latents downsampled 8x (curate --vae-factor 8)" in caplog.text and "up to 64x the tokens" in caplog.text
            and "--vae-factor 1" in caplog.text) == warned


def test_a_manifest_is_checked_on_its_own_members(tmp_path, caplog):
    """Training checks only the samples it trains on: a manifest of well-sized samples is not
    flagged for other, badly sized samples of the same modality."""
    from catalog import Catalog
    from flows.steps import warn_if_curated_for_another_latent

    ws, latent, _ = _workspace(tmp_path, 8)
    with Catalog.open(ws.catalog) as cat:
        some = cat.create_manifest("two", "modality = 'image' AND (source_uri LIKE '%img0.png' OR source_uri LIKE '%img1.png')")
        assert len(some.members) == 2
    with caplog.at_level("WARNING", logger="flows.steps"):
        assert warn_if_curated_for_another_latent(ws, "image", latent, ("two", 1)) == 2
    assert "2 accepted image samples of manifest two@v1 were sized for latents downsampled 8x" in caplog.text


@pytest.mark.parametrize("vae_factor, warned", [(8, True), (1, False)])
def test_training_on_images_sized_for_another_latent_warns(tmp_path, caplog, vae_factor, warned):
    """The warning came at encode only; a manifest made later trained with 10-17% [PAD] and odd
    latent grids without a word."""
    from catalog import Catalog
    from flows.steps import train_step
    from training.trainer import TrainConfig

    ws, _, _ = _workspace(tmp_path, vae_factor)
    with Catalog.open(ws.catalog) as cat:
        cat.create_manifest("all", "modality = 'image'")
    with caplog.at_level("WARNING", logger="flows.steps"):
        train_step(str(ws.home), TrainConfig(manifest="all", model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2,
                                                                              "patch_size": 4},
                                             steps=1, batch_size=4, progress=False, tensorboard=False))
    assert ("4 accepted image samples of manifest all@v1 were sized for latents downsampled 8x" in caplog.text) == warned


def test_images_curated_for_identity_latents_are_refused_before_an_8x_vae_encodes_them(tmp_path):
    """curate --vae-factor 1, then encode --latent sd15: the whole encode failed on the first image
    with "H and W must be multiples of 8, got (78, 52)", naming neither the samples nor the fix.
    Now one line, before a run opens or a VAE loads, from the curated samples' latent_factor."""
    from diffusers import AutoencoderKL

    from catalog import Catalog
    from flows.steps import encode_step
    from preprocess.encode import EncodeConfig

    AutoencoderKL(block_out_channels=[8, 8, 8, 8], down_block_types=["DownEncoderBlock2D"] * 4,
                  up_block_types=["UpDecoderBlock2D"] * 4, norm_num_groups=4, layers_per_block=1).save_pretrained(tmp_path / "vae")
    ws, _, accepted = _workspace(tmp_path, 1)
    with Catalog.open(ws.catalog, read_only=True) as cat:
        runs = cat.sql("SELECT count(*) FROM runs")[1][0][0]
    with pytest.raises(ValueError) as e:
        encode_step(str(ws.home), "image", EncodeConfig(latent="sd15", vae=str(tmp_path / "vae"), text="phone"), backend="local")
    msg = str(e.value)
    assert "\n" not in msg and f"{accepted} curated image samples were curated for latents downsampled 1x (curate --vae-factor 1)" in msg
    assert "downsamples 8x" in msg and "curate the source again with --vae-factor 8" in msg and "img" in msg, msg
    with Catalog.open(ws.catalog, read_only=True) as cat:
        assert cat.sql("SELECT count(*) FROM runs")[1][0][0] == runs  # no failed run for it
    assert len(list(ws.encoded("image").glob("*.tar"))) == 1  # the identity encoding only


def test_images_curated_for_an_8x_vae_encode_with_it(tmp_path):
    """The check refuses only what the VAE cannot take: images curated for it encode."""
    from diffusers import AutoencoderKL

    from flows.steps import encode_step
    from preprocess.encode import EncodeConfig

    AutoencoderKL(block_out_channels=[8, 8, 8, 8], down_block_types=["DownEncoderBlock2D"] * 4,
                  up_block_types=["UpDecoderBlock2D"] * 4, norm_num_groups=4, layers_per_block=1).save_pretrained(tmp_path / "vae")
    ws, _, accepted = _workspace(tmp_path, 8)
    out = encode_step(str(ws.home), "image", EncodeConfig(latent="sd15", vae=str(tmp_path / "vae"), text="phone"), backend="local")
    assert out["registered"]["encodings"] == 2 * accepted
