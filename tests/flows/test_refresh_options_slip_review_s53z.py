"""e11f227 left out of a refresh every option another modality takes, so that the `refresh`
deployment's `options: {vae_factor: 1}` serves a speech run. It also left out an option the run
gave itself under another modality's name: `--param modality=video --param options='{"max_duration": 4}'`
(speech's name; video's is max_seconds) curated at max_seconds 10 with one info line, where it was
refused before. Only the deployment's own options are left out now."""

from __future__ import annotations

from types import SimpleNamespace

import prefect.artifacts
import pytest

from flows import refresh
from flows.refresh import RefreshResult, own_options
from preprocess.modality import get_plugin


def test_only_the_deployments_options_are_left_out():
    from_yaml = {"vae_factor": 1}
    assert own_options("speech", {"vae_factor": 1}, from_yaml) == ({}, {"vae_factor": ["image", "video", "multiview"]})
    assert own_options("video", {"vae_factor": 1, "max_duration": 4}, from_yaml) == ({"vae_factor": 1, "max_duration": 4}, {})
    assert own_options("speech", {"vae_factor": 8}, from_yaml)[1] == {}  # the run's own value, not the deployment's


def test_a_deployment_run_given_another_modalitys_option_name_is_refused(tmp_path, monkeypatch):
    for name in ("create_progress_artifact", "update_progress_artifact", "create_table_artifact", "create_markdown_artifact"):
        monkeypatch.setattr(prefect.artifacts, name, lambda **kw: "artifact")
    monkeypatch.setattr(refresh, "get_run_logger", lambda: SimpleNamespace(info=print, warning=print))
    monkeypatch.setattr(refresh, "deployment_options", lambda: {"vae_factor": 1}, raising=False)  # prefect.yaml's

    def fake_refresh(source, home, cfg, *args, **kwargs):
        get_plugin(cfg.modality).options(cfg.options)  # what plan_refresh parses first
        return RefreshResult(source, cfg.modality, True, plan={"entries": 0})

    monkeypatch.setattr(refresh, "refresh_source", fake_refresh)
    with pytest.raises(Exception, match="max_duration"):
        refresh.refresh_flow.fn(source=str(tmp_path), home=str(tmp_path / "home"), modality="video",
                                options={"vae_factor": 1, "max_duration": 4}, backend="local")
