"""lumina evaluate puts its run in the lineage graph: checkpoint -> evaluation run and held-out
manifest -> evaluation run. Before, a data lead walking down from a checkpoint never reached the
evaluations of it (the catalog README left those edges to add_lineage)."""

from __future__ import annotations

import shutil


def test_an_evaluation_run_hangs_below_its_checkpoint_and_manifest(tiny_home, tmp_path, monkeypatch):
    import evaluation.evaluate as ev
    from catalog import Catalog
    from flows.steps import evaluate_step, train_step
    from training.trainer import TrainConfig

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(tiny_home.catalog, home / "catalog.duckdb")
    trained = train_step(str(home), TrainConfig(manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                                                model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4},
                                                steps=1, batch_size=4, progress=False, tensorboard=False))
    monkeypatch.setattr(ev, "evaluate", lambda cfg, **_: ev.EvalResult({"heldout_fm_loss": 0.5}))
    out = evaluate_step(str(home), ev.EvalConfig(manifest=tiny_home.holdout_manifest, checkpoint=trained["checkpoint_id"]))
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, into = cat.sql("SELECT src_kind, src_id FROM lineage WHERE dst_kind = 'run' AND dst_id = ? ORDER BY src_kind", [out["run_id"]])
        _, flows = cat.sql("SELECT flow_name FROM runs WHERE run_id = ?", [out["run_id"]])
    assert flows == [("evaluate",)]
    assert into == [("checkpoint", trained["checkpoint_id"]), ("manifest", f"{tiny_home.holdout_manifest}@v1")]
