"""eval/<manifest>/metrics.json did not record the sampling settings its figures rest on (cfg scale,
steps, solver, shift, ...): re-evaluating a checkpoint with other settings wrote over it, and the
file could not say which evaluation it held (lumina evaluate printed them, but did not write them)."""

from __future__ import annotations

import json

import evaluation.evaluate as ev
from tests.evaluation.fakes import stub_evaluate_loaders


def _evaluate(tmp_path, monkeypatch, **settings) -> dict:
    stub_evaluate_loaders(monkeypatch, hook=lambda ctx: ({"class_accuracy": 0.5}, {}))
    ev.evaluate(ev.EvalConfig(catalog="c", manifest="m", checkpoint=str(tmp_path), out_dir=str(tmp_path / "eval"), **settings))
    return json.loads((tmp_path / "eval" / "metrics.json").read_text())


def test_metrics_json_records_the_sampling_settings(tmp_path, monkeypatch):
    saved = _evaluate(tmp_path, monkeypatch, cfg_scale=6.0, steps=12, solver="midpoint", shift=3.0, seed=5,
                      samples_per_class=2, max_heldout=None)
    assert saved["sampling"] == {"steps": 12, "solver": "midpoint", "cfg_scale": 6.0, "shift": 3.0, "samples_per_class": 2,
                                 "seed": 5, "max_heldout": None}
    assert saved["metrics"] == {"heldout_fm_loss": 0.5, "class_accuracy": 0.5}
    again = _evaluate(tmp_path, monkeypatch)  # the same folder, the defaults: the file says which evaluation it holds
    assert again["sampling"]["cfg_scale"] == 4.0 and again["sampling"]["steps"] == 30


def test_lumina_evaluate_prints_the_same_settings_it_writes():
    cfg = ev.EvalConfig(manifest="m", checkpoint="c", cfg_scale=5.5)
    assert ev.sampling_settings(cfg) == {"steps": 30, "solver": "euler", "cfg_scale": 5.5, "shift": 1.0,
                                         "samples_per_class": 10, "seed": 0, "max_heldout": 4096}
