"""Prefect flow: train on a manifest and register the checkpoint (`lumina train` as a flow).

SIGTERM (a cancelled or preempted deployment run) ends training at a step boundary with a
registered checkpoint; the flow run then ends Cancelled, its message saying where to resume."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.states import Cancelled, State


@flow(name="train", log_prints=True)
def train_flow(manifest: str, home: str | None = None, options: dict[str, Any] | None = None) -> dict | State:
    from contracts.config import from_mapping
    from flows.steps import train_step
    from training.stopping import TrainingStopped
    from training.trainer import TrainConfig

    try:
        options = {"manifest": manifest, **(options or {})}  # what this run asks; --resume takes the rest from its checkpoint
        return train_step(home, from_mapping(TrainConfig, {"given": sorted(options), **options}))
    except TrainingStopped as e:
        return Cancelled(message=str(e))
