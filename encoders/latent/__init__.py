"""Latent encoders: media -> the unified latent [C, T, H, W]. The scale factor lives in the encoder."""

from encoders.latent.identity import IdentityImageEncoder

__all__ = ["IdentityImageEncoder"]
