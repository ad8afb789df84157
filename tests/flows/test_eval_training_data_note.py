"""Evaluating a checkpoint on the data it trained on warned on the console only: metrics.json (read
later, beside the renders) showed the figures as if held out. The warning is kept in its notes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def trained(tiny_home, tmp_path_factory):
    from flows.steps import train_step
    from training.trainer import TrainConfig

    home = tmp_path_factory.mktemp("eval_note") / "home"
    home.mkdir()
    shutil.copy(tiny_home.catalog, home / "catalog.duckdb")
    out = train_step(str(home), TrainConfig(manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                                            model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4},
                                            steps=1, batch_size=4, progress=False, tensorboard=False))
    return home, out


def _notes(home, checkpoint_id, manifest, monkeypatch) -> tuple[dict, list[str]]:
    import evaluation.evaluate as ev
    from flows.steps import evaluate_step, resolve_checkpoint

    def evaluate(cfg, **_):  # what evaluate writes, without sampling (judge_cache=: no judge here)
        result = ev.EvalResult({"heldout_fm_loss": 0.5}, notes=["the modality's own note"], sampling=ev.sampling_settings(cfg))
        ev.write_metrics_json(result, cfg.out_dir)
        return result

    monkeypatch.setattr(ev, "evaluate", evaluate)
    out = evaluate_step(str(home), ev.EvalConfig(manifest=manifest, checkpoint=checkpoint_id))
    ckpt = Path(resolve_checkpoint(home / "catalog.duckdb", checkpoint_id))
    folder = ckpt.parent / "eval" / ckpt.name / f"{manifest}@v1"
    return out, json.loads((folder / "metrics.json").read_text())["notes"]


def test_the_training_data_warning_is_kept_in_metrics_json(tiny_home, trained, monkeypatch):
    home, out = trained
    result, notes = _notes(home, out["checkpoint_id"], tiny_home.train_manifest, monkeypatch)
    assert result["split"] == "train"
    assert notes == [f"all members of {tiny_home.train_manifest}@v1 are in {tiny_home.train_manifest}@v1, which this "
                     f"checkpoint trained on: these figures measure fit, not generalisation (logged with split 'train', "
                     f"not 'holdout')", "the modality's own note"]
    assert result["notes"] == notes


def test_held_out_figures_get_no_such_note(tiny_home, trained, monkeypatch):
    home, out = trained
    result, notes = _notes(home, out["checkpoint_id"], tiny_home.holdout_manifest, monkeypatch)
    assert result["split"] == "holdout" and notes == ["the modality's own note"]
