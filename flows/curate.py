"""Prefect flow: curate a source into shards and register every input (`lumina curate` as a flow)."""

from __future__ import annotations

from typing import Any

from prefect import flow


@flow(name="curate", log_prints=True)
def curate_flow(source: str, modality: str = "image", home: str | None = None, options: dict[str, Any] | None = None) -> dict:
    from flows.steps import curate_step
    from preprocess.curate import CurateConfig

    return curate_step(source, home, CurateConfig(modality=modality, options=options or {}))
