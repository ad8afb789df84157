"""A stage given its own --catalog records its run there, beside the checkpoints and metrics it
registers. `lumina train --home H --catalog C` trained to the end, then failed: its run row went to
H's catalog and the first checkpoint's registration in C found no such run."""

from __future__ import annotations

import shutil

from catalog import Catalog
from flows.steps import evaluate_step, train_step
from evaluation.evaluate import EvalConfig
from training.trainer import TrainConfig

TINY = {"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4}


def test_train_and_evaluate_record_their_runs_in_the_catalog_they_were_given(tiny_home, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    catalog = tmp_path / "elsewhere" / "catalog.duckdb"
    catalog.parent.mkdir()
    shutil.copy(tiny_home.catalog, catalog)
    # the held-out shapes only: no digit in it, so no digit judge to train (400 steps, ~10 s of CPU,
    # for metrics this test does not read); the evaluate run is recorded all the same
    with Catalog.open(catalog) as cat:
        holdout = cat.freeze_manifest("tiny-holdout-shapes", "modality = 'image' AND split = 'holdout' AND caption NOT LIKE '%digit%'")
    assert holdout.num_members > 0
    out = train_step(str(home), TrainConfig(catalog=str(catalog), manifest=tiny_home.train_manifest,
                                            null_caption=tiny_home.null_caption, model_overrides=TINY, steps=2,
                                            batch_size=4, checkpoint_every=1, progress=False, tensorboard=False))
    evaluated = evaluate_step(str(home), EvalConfig(catalog=str(catalog), manifest=holdout.name,
                                                    checkpoint=out["checkpoint_id"], steps=1, samples_per_class=1,
                                                    max_heldout=16, grid_size=2))
    with Catalog.open(catalog, read_only=True) as cat:
        runs = dict(cat.sql("SELECT run_id, status FROM runs WHERE flow_name IN ('train', 'evaluate')")[1])
        registered = cat.sql("SELECT count(*) FROM checkpoints WHERE run_id = ?", [out["run_id"]])[1][0][0]
    assert runs == {out["run_id"]: "completed", evaluated["run_id"]: "completed"}
    assert registered == 2
    assert not (home / "catalog.duckdb").exists()  # the workspace's own catalog was not made for it
