"""Latent encoders: media -> the unified latent [C, T, H, W]. The scale factor lives in the encoder.

Registry (``load_latent_encoder(name, path, device, **options)``):
  identity  pixels or a spectrogram as they are (fingerprint "identity@v1")
  sd15      SD1.5 VAE (AutoencoderKL, scale 0.18215 from its config): a diffusers folder or a .safetensors file
  sdxl      SDXL VAE (scale 0.13025), run in fp32 unless its config says force_upcast: false (the fp16-fix VAE)
Decoding for evaluation reloads the encoder from its recorded description: ``load_described(info)``.
"""

from __future__ import annotations

from pathlib import Path

from encoders.latent.base import LatentEncoder, draw_latent, encoder_info
from encoders.latent.identity import IdentityImageEncoder, IdentityLatentEncoder, pixels_to_unit, unit_to_pixels
from encoders.names import LATENT_ENCODERS  # torch-free, for the commands' checks


def load_latent_encoder(name: str, path: str | Path | None = None, device: str | None = None, say_name_mismatch: bool = True,
                        **options) -> LatentEncoder:
    """``say_name_mismatch``: warn when a VAE's config is not the named one's (said when its latents are
    made; decoding them again, the recorded fingerprint decides)."""
    if name == "identity":
        return IdentityLatentEncoder(**options)
    if name in ("sd15", "sdxl"):
        from encoders.latent.vae import VAELatentEncoder

        return VAELatentEncoder(name, path, device, say_name_mismatch=say_name_mismatch, **options)
    raise ValueError(f"unknown latent encoder {name!r}; choose from {LATENT_ENCODERS}")


def latent_downsample(name: str, path: str | Path | None = None) -> int:
    """Pixels per latent cell along a side (8 for SD VAEs, 1 for identity), from the config alone:
    no weights are read, so encoding can check its inputs before it loads the encoder."""
    if name == "identity":
        return 1
    if name in ("sd15", "sdxl"):
        from encoders.latent.vae import vae_config

        return 2 ** (len(vae_config(path, name).get("block_out_channels", [64])) - 1)  # as VAELatentEncoder.downsample
    raise ValueError(f"unknown latent encoder {name!r}; choose from {LATENT_ENCODERS}")


def load_described(info: dict, device: str | None = None) -> LatentEncoder:
    """The encoder a manifest's latents were made with, from its describe() record; checks the fingerprint.
    The name-mismatch warning was said when the latents were made: here it repeated at every sample and
    evaluate, and just before a fingerprint refusal, where it read as the cause."""
    enc = load_latent_encoder(info["name"], info.get("path"), device, say_name_mismatch=False, **info.get("options", {}))
    from encoders.fingerprint import same_encoder

    if not same_encoder(info, enc):
        raise ValueError(f"latent encoder at {info.get('path')} is {enc.fingerprint}, but the latents were made by {info['fingerprint']}")
    if enc.fingerprint != info.get("fingerprint", enc.fingerprint):  # the same weights read, other files beside them:
        enc.fingerprint = info["fingerprint"]  # it decodes as the encoder the latents name
    return enc


__all__ = ["LATENT_ENCODERS", "IdentityImageEncoder", "IdentityLatentEncoder", "LatentEncoder", "draw_latent", "encoder_info",
           "latent_downsample", "load_described", "load_latent_encoder", "pixels_to_unit", "unit_to_pixels"]
