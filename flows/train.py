"""Prefect flow: train on a manifest and register the checkpoint (`lumina train` as a flow)."""

from __future__ import annotations

from typing import Any

from prefect import flow


@flow(name="train", log_prints=True)
def train_flow(manifest: str, home: str | None = None, options: dict[str, Any] | None = None) -> dict:
    from contracts.config import from_mapping
    from flows.steps import train_step
    from training.trainer import TrainConfig

    return train_step(home, from_mapping(TrainConfig, {"manifest": manifest, **(options or {})}))
