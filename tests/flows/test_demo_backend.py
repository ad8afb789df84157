"""data_to_model's parameters: `backend` reaches the curate and encode steps (the test-scale configs
run them without Ray), the smoke configs of video, multi-view and speech ask for it, and evaluation
flags win over a demo's own settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_curate_and_encode_tasks_pass_the_backend_on(monkeypatch, backend):
    import flows.steps
    from flows import data_to_model as d2m

    seen = {}
    monkeypatch.setattr(flows.steps, "curate_step", lambda *a, **k: seen.setdefault("curate", k["backend"]))
    monkeypatch.setattr(flows.steps, "encode_step", lambda *a, **k: seen.setdefault("encode", k["backend"]))
    d2m.curate.fn("src", "home", "image", {}, "run", backend)
    d2m.encode.fn("home", "image", {}, "run", [], backend)
    assert seen == {"curate": backend, "encode": backend}


def test_smoke_configs_of_the_new_modalities_run_without_ray():
    for name in ("video-smoke.yaml", "speech-smoke.yaml", "multiview_smoke.yaml"):
        assert yaml.safe_load((REPO / "configs" / name).read_text())["backend"] == "local", name
    assert "backend" not in yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())  # the image e2e keeps Ray


def test_evaluation_flags_win_over_the_demos_settings():
    from flows.data_to_model import evaluation_params

    demo = {"samples_per_class": 4, "cfg_scale": 3.0}  # the video demo's
    assert evaluation_params(demo, None, None, None) == {"samples_per_class": 4, "steps": 30, "cfg_scale": 3.0}
    assert evaluation_params(demo, 10, 12, None) == {"samples_per_class": 10, "steps": 12, "cfg_scale": 3.0}
    assert evaluation_params({}, None, None, {"cfg_scale": 5.0, "steps": 8}) == {"samples_per_class": 10, "steps": 8, "cfg_scale": 5.0}
