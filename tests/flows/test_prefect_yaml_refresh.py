"""The shipped refresh deployment curates for the latents it encodes with: with its defaults
(identity latents, 1x) an image curated for an 8x VAE has up to 64 times the token budget, and every
training run it triggers warned so."""

from __future__ import annotations

from pathlib import Path

import yaml

from encoders.latent import latent_downsample
from preprocess.encode import EncodeConfig
from preprocess.modality import get_plugin

PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"


def _deployment(name: str) -> dict:
    return next(d for d in yaml.safe_load(PREFECT_YAML.read_text())["deployments"] if d["name"] == name)


def test_the_refresh_deployment_curates_for_the_latents_it_encodes_with():
    params = _deployment("refresh")["parameters"]
    curation = get_plugin(params.get("modality", "image")).options(params.get("options"))
    encode = EncodeConfig(**(params.get("encode_options") or {}))
    assert curation.vae_factor == latent_downsample(encode.latent, encode.vae)
