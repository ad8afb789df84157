"""An evaluation inside a composing flow (data_to_model: one catalog run curates, encodes, trains and
evaluates) adds no lineage edges into that run: checkpoint -> run and held-out manifest -> run made
the held-out manifest an ancestor of the checkpoint the same run wrote (manifest -> run -> checkpoint)
and a cycle run <-> checkpoint. `lumina evaluate`'s own run keeps both edges (test_evaluation_lineage)."""

from __future__ import annotations

import shutil

UPSTREAM = """WITH RECURSIVE up(kind, id) AS (SELECT 'checkpoint', ? UNION
    SELECT l.src_kind, l.src_id FROM lineage l JOIN up ON l.dst_kind = up.kind AND l.dst_id = up.id)
SELECT kind, id FROM up WHERE kind = 'manifest' ORDER BY id"""


def test_a_flow_runs_evaluation_leaves_the_checkpoints_ancestry_alone(tiny_home, tmp_path, monkeypatch):
    import evaluation.evaluate as ev
    from catalog import Catalog
    from flows.steps import evaluate_step, train_step
    from training.trainer import TrainConfig

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(tiny_home.catalog, home / "catalog.duckdb")
    with Catalog.open(home / "catalog.duckdb") as cat:
        flow_run = cat.start_run("data_to_model", {})
    trained = train_step(str(home), TrainConfig(manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                                                model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4},
                                                steps=1, batch_size=4, progress=False, tensorboard=False), run_id=flow_run)
    monkeypatch.setattr(ev, "evaluate", lambda cfg, **_: ev.EvalResult({"heldout_fm_loss": 0.5}))
    evaluate_step(str(home), ev.EvalConfig(manifest=tiny_home.holdout_manifest, checkpoint=trained["checkpoint_id"]),
                  run_id=flow_run)
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, ancestors = cat.sql(UPSTREAM, [trained["checkpoint_id"]])
    assert ancestors == [("manifest", f"{tiny_home.train_manifest}@v1")]
