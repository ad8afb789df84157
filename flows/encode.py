"""Prefect flow: encode curated shards and register the encodings (`lumina encode` as a flow)."""

from __future__ import annotations

from typing import Any

from prefect import flow


@flow(name="encode", log_prints=True)
def encode_flow(modality: str = "image", home: str | None = None, options: dict[str, Any] | None = None) -> dict:
    from contracts.config import from_mapping
    from flows.steps import encode_step
    from preprocess.encode import EncodeConfig

    return encode_step(home, modality, from_mapping(EncodeConfig, options or {}, where="encode options"))
