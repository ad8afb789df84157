"""`--set a.b=x` over `--config FILE` changes that one key: the file's other keys of `a` stay, for
every command that reads options (contracts/config.config_values; the demo had its own merge)."""

from __future__ import annotations

from contracts.config import config_values, parse_assignments


def test_set_changes_one_nested_key_and_keeps_the_file_s_others(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("steps: 10\nmodel_overrides: {dim: 64, n_layers: 2}\noptions: {quality: {min_contrast: 0.1, min_sharpness: 0.2}}\n")
    values = config_values(cfg, overrides={"steps": 20},
                           assignments=parse_assignments(["model_overrides.dim=32", "options.quality.min_sharpness=0.5", "lr=0.01"]))
    assert values == {"steps": 20, "lr": 0.01, "model_overrides": {"dim": 32, "n_layers": 2},
                      "options": {"quality": {"min_contrast": 0.1, "min_sharpness": 0.5}}}


def test_set_may_replace_a_mapping_with_a_scalar():
    assert config_values(None, assignments={"options": None}) == {"options": None}
