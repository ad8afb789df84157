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
