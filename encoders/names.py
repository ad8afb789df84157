"""The encoders' registry names, without torch: `lumina encode --latent/--text`, `lumina demo --set
encode_options...` and `lumina refresh` refuse an unknown name before anything heavy is imported
(EncodeConfig's check took 2 s of CPU importing torch through encoders.latent and encoders.text,
whose loaders are the registries these names are of)."""

from __future__ import annotations

LATENT_ENCODERS = ("identity", "sd15", "sdxl")  # encoders.latent.load_latent_encoder's names
TEXT_ENCODERS = ("minilm", "clip", "llama", "phone")  # encoders.text.load_text_encoder's names
