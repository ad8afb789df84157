"""b166bfe leaves a checkpoint prune could not delete aside as .checkpoint-N-pruned, so that a partly
deleted one is never published with files gone. A folder of which nothing could be deleted (a
read-only checkpoint folder: renamed in place all the same, then every unlink refused) was hidden
whole as well, where the next start cannot delete it either, and the warning said it would;
training/README.md says a read-only one stays under its name. It does again."""

from __future__ import annotations

import os

from training.state import prune


def _checkpoint(out, step):
    d = out / f"checkpoint-{step:07d}"
    d.mkdir()
    (d / "config.json").write_text("{}")
    (d / "model.safetensors").write_text("weights")
    return d


def test_a_checkpoint_of_which_nothing_could_be_deleted_stays_published_whole(tmp_path, monkeypatch):
    old, new = _checkpoint(tmp_path, 2), _checkpoint(tmp_path, 4)

    def unlink(path, *a, **k):  # a read-only folder: no file of it can be deleted
        raise PermissionError(13, "Permission denied", os.fspath(path))

    monkeypatch.setattr(os, "unlink", unlink)
    assert prune(tmp_path, 1) == [old]
    assert sorted(p.name for p in old.iterdir()) == ["config.json", "model.safetensors"]
    assert not (tmp_path / f".{old.name}-pruned").exists() and new.is_dir()
