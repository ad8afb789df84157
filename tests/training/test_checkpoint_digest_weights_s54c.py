"""A checkpoint folder written again is told from the one before by its weights, not its training.json.

A run deleted and trained again into the same folder with the same weights but another --progress or
--log-every (so another training.json) was reported 'rewritten with other weights' and its metrics
detached (checked: two `lumina train --steps 3` into one --out-dir, model.safetensors the same sha256)."""

from __future__ import annotations

import hashlib
import json
import logging

import pytest
import torch
from safetensors.torch import save_file

from catalog import Catalog
from tests.training.test_mutation_killers_catalog_hook import _sql, registrar  # noqa: F401
from training.state import STATE_JSON, write_state


def _checkpoint(tmp_path, weight: float, progress: bool, recorded: bool = True):
    """A checkpoint folder as the trainer writes it: weights, training.json, and (``recorded``)
    train_state.json with model.safetensors' checksum."""
    ckpt = tmp_path / "run" / "checkpoint-0000004"
    ckpt.mkdir(parents=True, exist_ok=True)
    save_file({"w": torch.full((3,), weight)}, str(ckpt / "model.safetensors"), metadata={"format": "pt"})
    (ckpt / "training.json").write_text(json.dumps({"train_config": {"model": "flag-dit-s", "progress": progress},
                                                    "losses": [[4, 0.5 if progress else 0.6]]}))
    (ckpt / STATE_JSON).unlink(missing_ok=True)
    if recorded:
        write_state(ckpt, {"model.w": torch.zeros(1)}, {"step": 4})
    return ckpt


def _rewritten(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "rewritten with other weights" in r.getMessage()]


def _credit(registrar, ckpt) -> None:
    with Catalog.open(registrar.catalog) as cat:
        cat.log_metrics(registrar.run_id, {"heldout_fm_loss": 0.3}, checkpoint_id=registrar.checkpoint_ids[-1])


@pytest.mark.parametrize("recorded", [True, False])  # the checksum train_state.json records, or the file's read
def test_the_same_weights_with_another_training_json_keep_the_row_and_its_metrics(tmp_path, registrar, caplog, recorded):
    ckpt = _checkpoint(tmp_path, 1.0, progress=True, recorded=recorded)
    registrar(str(ckpt), 4, [])
    _credit(registrar, ckpt)
    _checkpoint(tmp_path, 1.0, progress=False, recorded=recorded)  # deleted, trained again: same weights
    with caplog.at_level(logging.WARNING):
        registrar(str(ckpt), 4, [])
    assert _rewritten(caplog) == []
    assert _sql(registrar, "SELECT count(*) FROM metrics WHERE checkpoint_id IS NOT NULL") == [(1,)]


def test_other_weights_in_the_folder_are_reported(tmp_path, registrar, caplog):
    ckpt = _checkpoint(tmp_path, 1.0, progress=True)
    registrar(str(ckpt), 4, [])
    _credit(registrar, ckpt)
    _checkpoint(tmp_path, 2.0, progress=True)  # the same training.json, other weights
    with caplog.at_level(logging.WARNING):
        registrar(str(ckpt), 4, [])
    assert len(_rewritten(caplog)) == 1
    assert _sql(registrar, "SELECT count(*) FROM metrics WHERE checkpoint_id IS NOT NULL") == [(0,)]


def test_a_row_registered_when_the_digest_hashed_training_json_is_kept_for_the_same_folder(tmp_path, registrar, caplog):
    """A --resume registers its checkpoint again: a row of an earlier version (content_sha256 of
    training.json, no weights_checksum) is not taken for other weights while training.json is the same."""
    ckpt = _checkpoint(tmp_path, 1.0, progress=True)
    legacy = hashlib.sha256((ckpt / "training.json").read_bytes()).hexdigest()
    with Catalog.open(registrar.catalog) as cat:
        cat.register_checkpoint(registrar.run_id, str(ckpt), {"content_sha256": legacy}, step=4)
    with caplog.at_level(logging.WARNING):
        registrar(str(ckpt), 4, [])
    assert _rewritten(caplog) == []
    assert [json.loads(c)["content_sha256"] for (c,) in _sql(registrar, "SELECT config FROM checkpoints")] == [legacy]
    _checkpoint(tmp_path, 2.0, progress=False)  # another run since: nothing tells the old weights, so it is said
    with caplog.at_level(logging.WARNING):
        registrar(str(ckpt), 4, [])
    assert len(_rewritten(caplog)) == 1
