"""Evaluating a checkpoint on the data it trained on: the figures were logged as held-out ones
(replacing the real held-out figures in latest_metrics) and written over the held-out renders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture()
def home_with_mixed_manifest(tiny_home, tmp_path):
    from catalog import Catalog

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(tiny_home.catalog, home / "catalog.duckdb")
    with Catalog.open(home / "catalog.duckdb") as cat:
        cat.create_manifest("everything", "modality = 'image'")
    return home


def test_the_split_logged_says_whether_the_checkpoint_trained_on_the_members(tiny_home, home_with_mixed_manifest, caplog):
    from catalog import load_manifest_header
    from flows.steps import evaluated_split

    catalog = home_with_mixed_manifest / "catalog.duckdb"
    info = {"manifest": tiny_home.train_manifest, "manifest_version": 1}
    with caplog.at_level("WARNING", logger="flows.steps"):
        got = {name: evaluated_split(catalog, load_manifest_header(catalog, name), info)
               for name in (tiny_home.holdout_manifest, tiny_home.train_manifest, "everything")}
    assert got == {tiny_home.holdout_manifest: "holdout", tiny_home.train_manifest: "train", "everything": "mixed"}
    n_train = load_manifest_header(catalog, tiny_home.train_manifest).num_members
    assert f"{n_train} of the {n_train} members of {tiny_home.train_manifest}@v1 are in {tiny_home.train_manifest}@v1" in caplog.text
    assert evaluated_split(catalog, load_manifest_header(catalog, "everything"), {}) == "holdout"  # a converted release


def test_evaluate_step_logs_under_that_split_into_a_folder_per_manifest(tiny_home, home_with_mixed_manifest, monkeypatch):
    import evaluation.evaluate as ev
    from catalog import Catalog
    from flows.steps import evaluate_step, train_step
    from training.trainer import TrainConfig

    home = home_with_mixed_manifest
    trained = train_step(str(home), TrainConfig(manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                                                model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4},
                                                steps=1, batch_size=4, progress=False, tensorboard=False))
    folders = []
    monkeypatch.setattr(ev, "evaluate", lambda cfg, **_: (folders.append(cfg.out_dir), ev.EvalResult({"heldout_fm_loss": 0.5}))[1])
    for name in (tiny_home.holdout_manifest, tiny_home.train_manifest):
        out = evaluate_step(str(home), ev.EvalConfig(manifest=name, checkpoint=trained["checkpoint_id"]))
        assert out["split"] == ("holdout" if name == tiny_home.holdout_manifest else "train")
    ckpt = Path(trained["checkpoint"])  # beside the checkpoint, in its run's eval/: keep_last deleted them with it
    assert folders == [str(ckpt.parent / "eval" / ckpt.name / f"{m}@v1")
                       for m in (tiny_home.holdout_manifest, tiny_home.train_manifest)]
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, rows = cat.sql("SELECT split FROM latest_metrics WHERE name = 'heldout_fm_loss' ORDER BY split")
    assert rows == [("holdout",), ("train",)]  # the held-out figure is still there beside the other


def test_a_manifest_of_another_modality_is_refused_as_such(tiny_home, home_with_mixed_manifest):
    """A speech checkpoint evaluated on a video manifest was told to pick another --encoder."""
    import json

    import evaluation.evaluate as ev
    from flows.steps import evaluate_step, train_step
    from training.trainer import TrainConfig

    home = home_with_mixed_manifest
    trained = train_step(str(home), TrainConfig(manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                                                model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4},
                                                steps=1, batch_size=4, progress=False, tensorboard=False))
    info_path = Path(trained["checkpoint"]) / "training.json"
    info_path.write_text(json.dumps({**json.loads(info_path.read_text()), "modality": "speech"}))
    with pytest.raises(ValueError, match=r"holds image samples, but checkpoint-0000001 is a speech model: evaluate it on a "
                                         r"speech manifest"):
        evaluate_step(str(home), ev.EvalConfig(manifest=tiny_home.holdout_manifest, checkpoint=trained["checkpoint"]))
