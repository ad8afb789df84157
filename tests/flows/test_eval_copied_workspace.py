"""Evaluating a checkpoint of a copied workspace (or a copied checkpoint folder): resolve_checkpoint
maps a catalog id to the copy, but the metrics were logged against the checkpoint id looked up by
that copy's exact folder, which the catalog does not record: checkpoint_id NULL, and latest_metrics
never showed them."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def copied_home(tiny_home, tmp_path_factory):
    from flows.steps import train_step
    from training.trainer import TrainConfig

    root = tmp_path_factory.mktemp("eval_copied")
    home = root / "home"
    home.mkdir()
    shutil.copy(tiny_home.catalog, home / "catalog.duckdb")
    trained = train_step(str(home), TrainConfig(manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                                                model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4},
                                                steps=1, batch_size=4, progress=False, tensorboard=False))
    copy = root / "home2"
    shutil.copytree(home, copy)
    return copy, trained, Path(trained["checkpoint"]).relative_to(home)


def _evaluate(home, checkpoint, manifest, monkeypatch):
    import evaluation.evaluate as ev
    from flows.steps import evaluate_step

    monkeypatch.setattr(ev, "evaluate", lambda cfg, **_: ev.EvalResult({"heldout_fm_loss": 0.5}))
    return evaluate_step(str(home), ev.EvalConfig(manifest=manifest, checkpoint=str(checkpoint)))


def _logged(home, run_id):
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        return cat.sql("SELECT checkpoint_id FROM metrics WHERE run_id = ?", [run_id])[1]


@pytest.mark.parametrize("given", ["id", "folder"])
def test_a_copied_workspace_logs_metrics_against_the_checkpoint(tiny_home, copied_home, given, monkeypatch, caplog):
    copy, trained, relative = copied_home
    checkpoint = trained["checkpoint_id"] if given == "id" else copy / relative
    with caplog.at_level(logging.WARNING, logger="flows.steps"):
        out = _evaluate(copy, checkpoint, tiny_home.holdout_manifest, monkeypatch)
    assert out["checkpoint_id"] == trained["checkpoint_id"]
    assert _logged(copy, out["run_id"]) == [(trained["checkpoint_id"],)]
    assert "without a checkpoint id" not in caplog.text


def test_a_folder_the_catalog_does_not_know_is_said_in_one_line(tiny_home, copied_home, tmp_path, monkeypatch, caplog):
    copy, trained, relative = copied_home
    elsewhere = shutil.copytree(copy / relative, tmp_path / "my_checkpoint")  # no runs/<run>/ to match
    with caplog.at_level(logging.WARNING, logger="flows.steps"):
        out = _evaluate(copy, elsewhere, tiny_home.holdout_manifest, monkeypatch)
    assert out["checkpoint_id"] is None
    said = [r.getMessage() for r in caplog.records if "without a checkpoint id" in r.getMessage()]
    assert len(said) == 1 and "\n" not in said[0] and str(elsewhere) in said[0]
