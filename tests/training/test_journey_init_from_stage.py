"""--init-from into a second stage (a walkthrough on a team's own video clips, 2026-12-06): the line
that says where the weights come from read "(dim 32, 1 layers)"."""

from __future__ import annotations

import logging

from training.trainer import TrainConfig, train


def test_the_stage_line_counts_layers_in_words(tiny_home, tmp_path, caplog):
    base = dict(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                batch_size=4, progress=False, tensorboard=False, steps=1, log_every=1)
    first = train(TrainConfig(out_dir=str(tmp_path / "a"), model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2,
                                                                            "patch_size": 4}, **base))
    with caplog.at_level(logging.INFO, logger="training.trainer"):
        train(TrainConfig(out_dir=str(tmp_path / "b"), init_from=first.checkpoint, **base))
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("--init-from: a new stage")]
    assert len(said) == 1 and f"weights of {first.checkpoint} (dim 32, 1 layer); the optimizer" in said[0], said


def test_a_stage_whose_config_holds_init_from_is_told_how_to_resume(tmp_path):
    """The stage's YAML held init_from (train.yaml holds any option); stopped, it said "continue with
    --resume --out-dir RUN", and that command was refused with "leave out --init-from", a flag the
    user never typed. The refusal now names the config's key and the --set that unsets it, and that
    --set gives a config that resumes."""
    import pytest

    from contracts.config import config_values, from_mapping, parse_assignments

    stage = tmp_path / "stage2.yaml"
    stage.write_text("steps: 10\ntokens_per_batch: 16384\ninit_from: runs/stage1/checkpoint-0000012\n")
    with pytest.raises(ValueError) as e:
        from_mapping(TrainConfig, config_values(stage, assignments={"resume": True}))
    assert "an init_from: in the --config file: add --set init_from=null" in str(e.value), e.value
    cfg = from_mapping(TrainConfig, config_values(stage, assignments={**parse_assignments(["init_from=null"]), "resume": True}))
    assert cfg.resume and cfg.init_from is None and cfg.tokens_per_batch == 16384
