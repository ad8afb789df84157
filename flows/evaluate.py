"""Prefect flow: evaluate a checkpoint on a held-out manifest (`lumina evaluate` as a flow)."""

from __future__ import annotations

from typing import Any

from prefect import flow


@flow(name="evaluate", log_prints=True)
def evaluate_flow(checkpoint: str, manifest: str, home: str | None = None, options: dict[str, Any] | None = None) -> dict:
    from contracts.config import from_mapping
    from evaluation.evaluate import EvalConfig
    from flows.steps import evaluate_step

    return evaluate_step(home, from_mapping(EvalConfig, {"checkpoint": checkpoint, "manifest": manifest, **(options or {})}))
