"""The on_checkpoint hook (training/catalog_hook.py) against a small catalog, without a training: what a
checkpoint's row records, its log windows' metrics, a window a stopped run logged open and the
resume's row that replaces it, a folder registered again, and the hook sent to a Ray worker."""

from __future__ import annotations

import hashlib
import json
import pickle

import pytest
import torch
from safetensors.torch import save_file

from catalog import Catalog
from tests.catalog.helpers import make_batch
from training.catalog_hook import WINDOW_METRICS, CatalogRegistrar, architecture, content_digest
from training.state import _checksum_algorithm, file_digest


@pytest.fixture
def registrar(tmp_path) -> CatalogRegistrar:
    path = str(tmp_path / "catalog.duckdb")
    with Catalog.open(path) as cat:
        run = cat.start_run("curate", {})
        cat.register_batches([make_batch(0)], run)
        m = cat.create_manifest("images", "modality = 'image'")
        train = cat.start_run("train", {"steps": 8}, run_id="run-train")
    return CatalogRegistrar(path, train, m.name, m.version, model="flag-dit-tiny")


def _folder(tmp_path, step: int, model: str = "flag-dit-s", losses=(1.0,), weight: float = 1.0):
    ckpt = tmp_path / "run" / f"checkpoint-{step:07d}"
    ckpt.mkdir(parents=True, exist_ok=True)
    save_file({"w": torch.full((2,), weight)}, str(ckpt / "model.safetensors"))
    (ckpt / "training.json").write_text(json.dumps({"train_config": {"model": model, "steps": 8}, "losses": list(losses)}))
    (ckpt / "config.json").write_text(json.dumps({"dim": 64, "n_layers": 2, "n_heads": 4, "patch_size": 2,
                                                  "in_channels": 4, "cap_dim": 32}))
    return ckpt


def _weights(ckpt) -> str:
    return file_digest(ckpt / "model.safetensors", _checksum_algorithm())


def _window(step: int, start: int, loss: float, **extra) -> dict:
    return {"step": step, "window_start": start, "train_fm_loss": loss, "grad_norm": 1.5, "lr": 1e-3,
            "tokens_per_s": 100.0, "padding_fraction": 0.0, **extra}


def _sql(registrar, query: str) -> list[tuple]:
    with Catalog.open(registrar.catalog, read_only=True) as cat:
        return cat.sql(query)[1]


def test_a_checkpoint_is_registered_with_what_tells_its_weights_apart_and_its_windows(tmp_path, registrar):
    ckpt = _folder(tmp_path, 4)
    registrar(str(ckpt), 4, [_window(2, 1, 0.9), _window(4, 3, 0.7, skipped_steps=1)])
    ((cid, uri, run, manifest, version, step, config),) = _sql(
        registrar, "SELECT checkpoint_id, uri, run_id, manifest, manifest_version, step, config FROM checkpoints")
    assert registrar.checkpoint_ids == [cid]
    assert (uri, run, manifest, version, step) == (str(ckpt), "run-train", "images", registrar.manifest_version, 4)
    assert json.loads(config) == {
        "steps": 4, "model": "flag-dit-s",  # the preset the checkpoint records, not the command's
        "content_sha256": hashlib.sha256(_weights(ckpt).encode()).hexdigest(), "weights_checksum": _weights(ckpt),
        "architecture": {"dim": 64, "n_layers": 2, "n_heads": 4, "patch_size": 2, "in_channels": 4}}
    rows = _sql(registrar, "SELECT name, value, step, split, checkpoint_id, run_id FROM metrics ORDER BY step, name")
    assert rows == sorted([(n, v, 2, "train", cid, "run-train") for n, v in _window(2, 1, 0.9).items()
                           if n not in ("step", "window_start")]
                          + [(n, v, 4, "train", cid, "run-train") for n, v in _window(4, 3, 0.7, skipped_steps=1).items()
                             if n not in ("step", "window_start")], key=lambda r: (r[2], r[0]))


def test_a_window_logged_open_at_a_stop_is_replaced_whole_by_its_row_after_the_resume(tmp_path, registrar):
    """The stop logged steps 5-7 of the window 5-8 (one skipped) with its checkpoint; the resumed run's row at
    step 8 covers the whole window, with no skipped step: every one of the open row's metrics goes,
    skipped_steps too, and the first window's rows stay."""
    registrar(str(_folder(tmp_path, 4)), 4, [_window(4, 1, 0.9)])
    registrar(str(_folder(tmp_path, 7)), 7, [_window(7, 5, 0.8, skipped_steps=1)])
    registrar(str(_folder(tmp_path, 8)), 8, [_window(8, 5, 0.6)])
    rows = _sql(registrar, "SELECT step, name, value FROM metrics ORDER BY step, name")
    assert [(s, n) for s, n, _ in rows] == [(4, n) for n in sorted(WINDOW_METRICS[:-1])] + [
        (8, n) for n in sorted(WINDOW_METRICS[:-1])]
    assert ("skipped_steps" in WINDOW_METRICS) and (8, "train_fm_loss", 0.6) in rows


def test_a_folder_registered_again_keeps_its_row_and_one_rewritten_with_other_weights_takes_the_new_ones(tmp_path, registrar):
    ckpt = _folder(tmp_path, 4)
    registrar(str(ckpt), 4, [])
    registrar(str(ckpt), 4, [])  # a resume registers its checkpoint again (a kill may have lost the row)
    assert len(set(registrar.checkpoint_ids)) == 1 and len(registrar.checkpoint_ids) == 2
    _folder(tmp_path, 4, weight=0.5)  # another run wrote this folder anew
    registrar(str(ckpt), 4, [])
    ((config,),) = _sql(registrar, "SELECT config FROM checkpoints")
    assert json.loads(config)["content_sha256"] == hashlib.sha256(_weights(ckpt).encode()).hexdigest()


def test_a_folder_without_training_json_or_config_records_what_the_hook_knows(tmp_path, registrar):
    assert content_digest(str(tmp_path)) == {} and architecture(str(tmp_path)) == {}
    ckpt = tmp_path / "bare"
    ckpt.mkdir()
    (ckpt / "training.json").write_text(json.dumps({"steps": 2}))  # no train_config: no model in it
    assert content_digest(str(ckpt)) == {}  # no weights: nothing to tell them apart by
    save_file({"w": torch.zeros(1)}, str(ckpt / "model.safetensors"))
    assert content_digest(str(ckpt)) == {"content_sha256": hashlib.sha256(_weights(ckpt).encode()).hexdigest(),
                                         "weights_checksum": _weights(ckpt)}
    registrar(str(ckpt), 2, [])
    ((config,),) = _sql(registrar, "SELECT config FROM checkpoints")
    assert json.loads(config)["model"] == "flag-dit-tiny"  # the command's, as nothing else says


def test_the_hook_goes_to_a_ray_worker_and_back_whole(registrar):
    again = pickle.loads(pickle.dumps(registrar))
    assert again == registrar and again.checkpoint_ids == [] and again.checkpoint_ids is not registrar.checkpoint_ids
    assert CatalogRegistrar("c", "r", "m", 1, "x").checkpoint_ids == []


def test_the_checkpoint_names_the_manifest_version_it_trained_on_not_the_newest(tmp_path, registrar):
    """A refresh made a newer version of the manifest while the run trained on the older one."""
    with Catalog.open(registrar.catalog) as cat:
        newer = cat.create_manifest("images", "modality = 'image' AND key <> '00000000000000000000000000000000'")
    assert newer.version == registrar.manifest_version + 1
    registrar(str(_folder(tmp_path, 4)), 4, [])
    assert _sql(registrar, "SELECT manifest, manifest_version FROM checkpoints") == [("images", registrar.manifest_version)]
