"""metrics.json did not say where an evaluation ran: --device auto (the default) is cpu on one
machine and a GPU on another, and two evaluations' figures could not be compared knowing which. It
now records the --device given, the device torch used (cuda as cuda:N, with the GPU's name) and the
model weights' dtype; lumina evaluate --json prints the same."""

from __future__ import annotations

import json

import torch

import evaluation.evaluate as ev
from tests.evaluation.fakes import stub_evaluate_loaders


def _evaluate(tmp_path, monkeypatch, model) -> dict:
    """evaluate() with its loaders replaced: only where the model ran is looked at."""
    stub_evaluate_loaders(monkeypatch, model)
    import evaluation.leakage as leakage

    monkeypatch.setattr(leakage, "heldout_leakage", lambda *a, **k: ([], {}))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    ev.evaluate(ev.EvalConfig(catalog="c", manifest="m", checkpoint=str(tmp_path), out_dir=str(tmp_path / "eval")))
    return json.loads((tmp_path / "eval" / "metrics.json").read_text())


def test_metrics_json_records_the_device_auto_resolved_to_and_the_dtype(tmp_path, monkeypatch):
    saved = _evaluate(tmp_path, monkeypatch, torch.nn.Linear(2, 2))
    assert saved["device"] == {"requested": "auto", "used": "cpu", "dtype": "float32"}


def test_bare_cuda_is_recorded_as_the_gpu_it_means_with_its_name(monkeypatch):
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d: f"Some GPU {torch.device(d).index}")
    model = torch.nn.Linear(2, 2).to(torch.bfloat16)
    assert ev.device_record("auto", "cuda", model) == {"requested": "auto", "used": "cuda:1", "name": "Some GPU 1",
                                                       "dtype": "bfloat16"}
    assert ev.device_record("cuda:0", "cuda:0", model)["used"] == "cuda:0"
