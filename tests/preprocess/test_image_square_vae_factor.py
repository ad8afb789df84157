"""`lumina curate --resize square --set options.size=N` with N no multiple of --vae-factor is refused before any work.

Square mode ignored the VAE factor: 36x36 images were curated (the whole source, hours on a large one)
and only `lumina encode --latent sd15` then refused every one of them (walkthrough 2026-12-07)."""

from __future__ import annotations

import pytest

from preprocess.image.plugin import ImageOptions


def test_a_square_size_an_8x_vae_cannot_encode_is_refused():
    with pytest.raises(ValueError, match=r"^size 36 is not a multiple of vae_factor 8: 8x VAEs \(--latent sd15, sdxl\) cannot "
                                         r"encode 36x36 images; give 32 or 40, or vae_factor 1 \(--vae-factor 1\) if you will encode with --latent identity$"):
        ImageOptions(resize="square", size=36, vae_factor=8)
    with pytest.raises(ValueError, match=r"give 8 or 8,"):  # below one latent pixel: the only size up
        ImageOptions(resize="square", size=4, vae_factor=8)


def test_sizes_the_vae_takes_and_identity_latents_pass():
    ImageOptions(resize="square", size=32)  # the demo's setting, at the default vae_factor 8
    ImageOptions(resize="square", size=36, vae_factor=1)
    ImageOptions(resize="fit", size=36)  # size is the square mode's; fit crops to the patch x VAE grid itself


def test_lumina_curate_refuses_it_in_one_line(tmp_path, capsys):
    from flows.cli import main

    from PIL import Image

    (tmp_path / "src").mkdir()
    Image.effect_mandelbrot((64, 64), (-2, -1.5, 1, 1.5), 50).convert("RGB").save(tmp_path / "src" / "a.png")
    (tmp_path / "src" / "a.txt").write_text("a fractal")
    code = main(["curate", str(tmp_path / "src"), "--modality", "image", "--home", str(tmp_path / "home"), "--local",
                 "--resize", "square", "--set", "options.size=36", "--vae-factor", "8"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lumina curate: error: ") and "size 36 is not a multiple of vae_factor 8" in err[0]
    assert not (tmp_path / "home" / "curated").exists()
