"""Curating a folder again at another size moves its keys' encodings rows to new shards at new
shapes; `lumina sample` must still judge extrapolation by the shapes the checkpoint trained on (helper
C's walkthrough, session 55: a stage-1 checkpoint trained at 16x16 latents said '1.8x the training area
(48x48)' for --size 64x64 after a second stage's curation)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb


def _catalog_copy(ckpt: Path, tmp_path: Path) -> str:
    info = json.loads((ckpt / "training.json").read_text())
    copy = tmp_path / "catalog.duckdb"
    shutil.copy(info["train_config"]["catalog"], copy)
    return str(copy)


def _move_rows(catalog: str, how_many: int | None) -> None:
    """Re-point the latent rows of the manifest's members (all, or the first `how_many`) to another
    shard at a shape no training sample had, as an encode after a second curation does."""
    with duckdb.connect(catalog) as con:
        keys = [k for k, in con.execute("SELECT DISTINCT key FROM manifest_encodings WHERE kind = 'latent' "
                                        "ORDER BY key").fetchall()]
        for key in keys[:how_many]:
            con.execute("UPDATE encodings SET shard_uri = 'file:///elsewhere/shard-2.tar', member = 'm', "
                        "shape = [3, 1, 64, 64] WHERE key = ? AND kind = 'latent'", [key])


def test_rows_moved_to_a_new_shard_are_not_shapes_the_checkpoint_trained_on(tiny_checkpoint, tmp_path):
    from evaluation.sample import trained_shapes

    ckpt = Path(shutil.copytree(tiny_checkpoint, tmp_path / "ckpt"))
    info = json.loads((ckpt / "training.json").read_text())
    (ckpt / "training.json").write_text(json.dumps({**info, "latent_shapes": [[[3, 1, 32, 32], 9]]}))
    catalog = _catalog_copy(ckpt, tmp_path)
    assert trained_shapes(ckpt, catalog) == [[3, 1, 32, 32]]  # untouched: every member, from the catalog
    _move_rows(catalog, None)
    assert trained_shapes(ckpt, catalog) == [[3, 1, 32, 32]]  # all moved: training.json's record


def test_some_rows_moved_keep_the_record_and_the_members_still_found(tiny_checkpoint, tmp_path):
    from evaluation.sample import trained_shapes

    ckpt = Path(shutil.copytree(tiny_checkpoint, tmp_path / "ckpt"))
    info = json.loads((ckpt / "training.json").read_text())
    (ckpt / "training.json").write_text(json.dumps({**info, "latent_shapes": [[[3, 1, 16, 16], 9]]}))
    catalog = _catalog_copy(ckpt, tmp_path)
    _move_rows(catalog, 1)
    assert trained_shapes(ckpt, catalog) == [[3, 1, 16, 16], [3, 1, 32, 32]]
