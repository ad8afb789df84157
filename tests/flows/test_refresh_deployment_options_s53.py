"""The `refresh` deployment's parameters serve every modality, and its `options: {vae_factor: 1}`
(for identity latents: image, video, multi-view) made the documented speech run fail:
`prefect deployment run refresh/refresh --param modality=speech --param source=...` ended Failed
with `speech options: unknown option(s) vae_factor` (walkthrough of session 53)."""

from __future__ import annotations

from types import SimpleNamespace

import prefect.artifacts
import pytest
import yaml

from flows import refresh
from flows.refresh import RefreshResult
from preprocess.modality import get_plugin


def test_an_option_only_other_modalities_take_is_left_out_and_a_typo_is_kept():
    from flows.refresh import own_options

    assert own_options("speech", {"vae_factor": 1, "min_snr_db": 3}) == ({"min_snr_db": 3},
                                                                        {"vae_factor": ["image", "video", "multiview"]})
    assert own_options("image", {"vae_factor": 1}) == ({"vae_factor": 1}, {})
    assert own_options("speech", {"vae_fctor": 1}) == ({"vae_fctor": 1}, {})  # the modality's own check refuses it


@pytest.mark.parametrize("modality", ["speech", "image"])
def test_the_flow_curates_with_the_deployments_options_for_every_modality(tmp_path, monkeypatch, modality):
    deployment = next(d for d in yaml.safe_load(open("prefect.yaml"))["deployments"] if d["name"] == "refresh")
    seen = {}

    def fake_refresh(source, home, cfg, *args, **kwargs):
        seen["options"] = get_plugin(cfg.modality).options(cfg.options)  # what plan_refresh parses first
        return RefreshResult(source, cfg.modality, True, plan={"entries": 0})

    monkeypatch.setattr(prefect.artifacts, "create_progress_artifact", lambda **kw: "progress")
    monkeypatch.setattr(prefect.artifacts, "update_progress_artifact", lambda **kw: None)
    monkeypatch.setattr(prefect.artifacts, "create_table_artifact", lambda **kw: None)
    monkeypatch.setattr(prefect.artifacts, "create_markdown_artifact", lambda **kw: None)
    said = []
    log = SimpleNamespace(info=said.append, warning=said.append)  # caplog loses its handler to Prefect's logging set-up
    monkeypatch.setattr(refresh, "get_run_logger", lambda: log)
    monkeypatch.setattr(refresh, "refresh_source", fake_refresh)
    params = {**deployment["parameters"], "modality": modality}
    refresh.refresh_flow.fn(source=str(tmp_path), home=str(tmp_path / "home"), **params)
    if modality == "speech":
        assert "options.vae_factor is no speech option (image, video, multiview take it): not used by this refresh" in said, said
    else:
        assert seen["options"].vae_factor == 1
