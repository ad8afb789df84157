"""A kill between publishing a run's FIRST checkpoint and registering it (the fault suite's moment
train-first-resume): `lumina train --resume` (no --out-dir) looked for the run to continue among the
manifest's registered checkpoints, found none, and refused ("has no checkpoint in the catalog ...
leave --resume out to start one"), so the steps trained were lost though the run folder holds a
resumable checkpoint. A resume now continues that run (a train run of the manifest the catalog
records) and registers the checkpoint with its log windows' rows; a manifest whose runs left no
checkpoint is still refused."""

import json
import shutil

import pytest

from tests.training.test_trainer import tiny_cfg
from training.catalog_hook import CatalogRegistrar
from training.trainer import train


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the trainer handles it, nothing after it runs."""


def _sql(catalog, query, params=()):
    from catalog import Catalog

    with Catalog.open(catalog, read_only=True) as cat:
        return cat.sql(query, list(params))[1]


def _killed_run(tiny_home, tmp_path, publish: bool):
    """A 4-step run of the workspace's own (runs/<run_id>, as train_step records it), killed at its
    first checkpoint: after publishing it (``publish``), or before any."""
    from catalog import Catalog

    home = tmp_path / "home"
    home.mkdir()
    catalog = home / "catalog.duckdb"
    shutil.copy(tiny_home.catalog, catalog)
    with Catalog.open(catalog) as cat:  # train_step records the manifest's name and no out_dir (the default folder)
        run_id = cat.start_run("train", {"manifest": tiny_home.train_manifest, "out_dir": None})
    out = home / "runs" / run_id
    cfg = tiny_cfg(tiny_home, out, catalog=str(catalog), steps=4, log_every=2, checkpoint_every=2, keep_last=0,
                   shuffle_buffer=16)
    hook = CatalogRegistrar(str(catalog), run_id, cfg.manifest, 1, cfg.model)

    def killed_before_registering_2(path, step, rows):
        if step == 2:
            raise Killed
        hook(path, step, rows)

    if publish:
        with pytest.raises(Killed):
            train(cfg, on_checkpoint=killed_before_registering_2)
    return home, catalog, out


def _resume(home, tiny_home, capsys):
    from flows.cli import main

    rc = main(["train", "--home", str(home), "--manifest", tiny_home.train_manifest, "--null-caption",
               tiny_home.null_caption, "--resume", "--json"])
    out, err = capsys.readouterr()
    return rc, (json.loads(out) if rc == 0 else err)


def test_a_resume_continues_a_run_killed_before_registering_its_first_checkpoint(tiny_home, tmp_path, capsys):
    home, catalog, out = _killed_run(tiny_home, tmp_path, publish=True)
    first = out / "checkpoint-0000002"
    assert first.is_dir() and not _sql(catalog, "SELECT 1 FROM checkpoints")

    rc, result = _resume(home, tiny_home, capsys)
    assert rc == 0, result
    assert result["run_id"] is not None and result["steps"] == 4
    # continued in the killed run's folder (not a new one): its checkpoint 2 registered, then 4
    assert _sql(catalog, "SELECT uri, step FROM checkpoints ORDER BY step") == [(str(first), 2), (str(out / "checkpoint-0000004"), 4)]
    rows = _sql(catalog, "SELECT c.step, m.step, m.name FROM metrics m JOIN checkpoints c USING (checkpoint_id) "
                         "WHERE m.split = 'train' AND m.name = 'train_fm_loss' ORDER BY 1")
    assert rows == [(2, 2, "train_fm_loss"), (4, 4, "train_fm_loss")]  # the first window's row too, once
    assert sorted(p.name for p in (home / "runs").iterdir()) == [out.name]


def test_a_manifest_whose_killed_run_left_no_checkpoint_is_still_refused(tiny_home, tmp_path, capsys):
    home, catalog, out = _killed_run(tiny_home, tmp_path, publish=False)
    rc, err = _resume(home, tiny_home, capsys)
    assert rc != 0 and "has no checkpoint in the catalog, so there is no run to continue" in err
