"""`lumina sample --set cfg_scale=5`, or a --config YAML with cfg_scale (the name lumina evaluate's
config uses; both commands' flag is --cfg-scale), was refused: "unknown option(s) cfg_scale".
cfg_scale is taken as cfg there; cfg, or a --cfg / --cfg-scale flag, wins over it."""

from __future__ import annotations

import pytest

from evaluation.sample import SampleConfig


@pytest.fixture
def sampled_with(tmp_path, monkeypatch):
    """lumina sample's arguments -> the SampleConfig it samples with (nothing is sampled)."""
    import evaluation.sample as sample
    from flows.cli import main

    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text("{}")
    got = []
    monkeypatch.setattr(sample, "sample_to_files", lambda cfg: got.append(cfg) or [])

    def run(*args: str) -> SampleConfig:
        assert main(["sample", "--home", str(tmp_path / "home"), "--checkpoint", str(tmp_path / "ckpt"), "--prompt", "a",
                     *args]) == 0
        return got.pop()

    return run


def _yaml(tmp_path, text: str) -> str:
    path = tmp_path / "sample.yaml"
    path.write_text(text)
    return str(path)


def test_cfg_scale_in_set_and_config_files_is_the_guidance_scale(sampled_with, tmp_path):
    assert sampled_with("--set", "cfg_scale=5").cfg == 5.0
    assert sampled_with("--config", _yaml(tmp_path, "cfg_scale: 6.5\nsteps: 3\n")).cfg == 6.5
    assert sampled_with().cfg == 4.0


def test_a_flag_or_cfg_wins_over_cfg_scale(sampled_with, tmp_path):
    yaml = _yaml(tmp_path, "cfg_scale: 6.5\n")
    assert sampled_with("--config", yaml, "--cfg-scale", "3").cfg == 3.0
    assert sampled_with("--config", yaml, "--cfg", "4").cfg == 4.0  # the default's value, given: still the flag's
    assert sampled_with("--set", "cfg=2", "--set", "cfg_scale=7").cfg == 2.0


def test_the_config_keeps_one_name():
    cfg = SampleConfig(checkpoint="c", prompt="p", cfg_scale=5)
    assert (cfg.cfg, cfg.cfg_scale, type(cfg.cfg)) == (5.0, None, float)
    assert type(SampleConfig(checkpoint="c", prompt="p").cfg) is float
    with pytest.raises(ValueError, match="--cfg must be a finite number"):
        SampleConfig(checkpoint="c", prompt="p", cfg_scale=float("inf"))
