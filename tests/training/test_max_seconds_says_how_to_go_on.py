"""A run that --max-seconds ended before its --steps (a time-boxed slot on a shared cluster) ended
Completed with only `stopped_by max_seconds` in its result: nothing said the run was not done or
how it goes on. The log says it now, with the folder to resume."""

from __future__ import annotations

import logging

from training.trainer import TrainConfig, train


def test_a_run_out_of_time_says_where_it_stopped_and_how_to_continue(tiny_home, tmp_path, caplog):
    run = tmp_path / "run"
    cfg = TrainConfig(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                      out_dir=str(run), model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4},
                      steps=50, batch_size=4, max_seconds=1e-6, progress=False, tensorboard=False)
    with caplog.at_level(logging.INFO, logger="training.trainer"):
        result = train(cfg)
    assert result.stopped_by == "max_seconds" and result.steps < 50
    said = [r.getMessage() for r in caplog.records if "--max-seconds" in r.getMessage()]
    assert said == [f"--max-seconds 1e-06 reached at step {result.steps} of 50; checkpoint {result.checkpoint} is written: "
                    f"continue with --resume --out-dir {run}"], said
    assert (run / f"checkpoint-{result.steps:07d}").is_dir()
    # a second stage begun from it: its --resume is refused with --init-from, which its --config may hold
    stage = tmp_path / "stage2"
    cfg.out_dir, cfg.init_from = str(stage), result.checkpoint
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="training.trainer"):
        second = train(cfg)
    said = [r.getMessage() for r in caplog.records if "--max-seconds" in r.getMessage()]
    assert said == [f"--max-seconds 1e-06 reached at step {second.steps} of 50; checkpoint {second.checkpoint} is written: "
                    f"continue with --resume --out-dir {stage} and without --init-from, which this run began from "
                    f"(where the --config file holds init_from:, add --set init_from=null)"], said


def test_a_run_that_reaches_its_steps_says_nothing_of_max_seconds(tiny_home, tmp_path, caplog):
    cfg = TrainConfig(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                      out_dir=str(tmp_path / "run"), model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4},
                      steps=1, batch_size=4, max_seconds=3600, progress=False, tensorboard=False)
    with caplog.at_level(logging.INFO, logger="training.trainer"):
        assert train(cfg).stopped_by is None
    assert "--max-seconds" not in caplog.text
