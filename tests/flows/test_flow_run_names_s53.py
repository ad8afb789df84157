"""`prefect flow-run ls` listed every refresh and data-to-model run under a random name
(`xanthic-jaguar`, `refined-reindeer`): with an image and a speech folder refreshed by the same
deployment, which run was which, and which one failed, took opening each (walkthrough of session 53).
Runs are named by modality and source now."""

from __future__ import annotations

import prefect.runtime.flow_run as runtime_flow_run
from prefect._internal.engine import resolve_custom_flow_run_name


def _named(flow, monkeypatch, parameters: dict) -> str:
    monkeypatch.setitem(runtime_flow_run.FIELDS, "parameters", lambda: parameters)  # what the engine's run context holds
    return resolve_custom_flow_run_name(flow, parameters)


def test_a_refresh_run_is_named_by_its_modality_and_source(monkeypatch):
    from flows import refresh

    monkeypatch.delenv("LUMINA_REFRESH_SOURCE", raising=False)
    assert _named(refresh.refresh_flow, monkeypatch, {"modality": "speech", "source": "/data/raw/speech/"}) == "speech-speech"
    assert _named(refresh.refresh_flow, monkeypatch, {"source": "/data/raw/coco"}) == "image-coco"
    monkeypatch.setenv("LUMINA_REFRESH_SOURCE", "/data/raw/images")  # the worker's, when the run gives none
    assert _named(refresh.refresh_flow, monkeypatch, {"modality": "image"}) == "image-images"


def test_a_data_to_model_run_is_named_by_its_modality_and_source(monkeypatch):
    from flows.data_to_model import data_to_model

    assert _named(data_to_model, monkeypatch, {"modality": "video"}) == "video-demo"
    assert _named(data_to_model, monkeypatch, {"source": "/data/raw/coco", "train_steps": 3}) == "image-coco"
