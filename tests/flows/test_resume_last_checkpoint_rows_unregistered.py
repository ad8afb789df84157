"""A kill between registering a run's LAST checkpoint and logging its log windows' rows (the fault
suite's moment train-last-registered): `lumina train --resume` found the folder registered, said
"nothing to train" and exited 0, so the windows' metric rows the folder records never reached the
catalog (5 rows lost in the suite's chain; and with no run started, the killed run stayed 'running').
The resume now logs them (training nothing); a second resume, all rows in, trains nothing and
records no run."""

import json
import shutil

import pytest

from tests.training.test_trainer import tiny_cfg
from training.catalog_hook import CatalogRegistrar, content_digest
from training.trainer import train


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the trainer handles it, nothing after it runs."""


def _sql(catalog, query, params=()):
    from catalog import Catalog

    with Catalog.open(catalog, read_only=True) as cat:
        return cat.sql(query, list(params))[1]


def _rows_of(catalog, ckpt):
    """(step, metric) rows logged with checkpoint folder ``ckpt``."""
    return sorted(_sql(catalog, "SELECT m.step, m.name FROM metrics m JOIN checkpoints c USING (checkpoint_id) "
                                "WHERE c.uri = ? AND m.split = 'train'", [str(ckpt)]))


def _resume(home, tiny_home, out, capsys):
    from flows.cli import main

    rc = main(["train", "--home", str(home), "--manifest", tiny_home.train_manifest, "--null-caption",
               tiny_home.null_caption, "--resume", "--out-dir", str(out), "--json"])
    return rc, json.loads(capsys.readouterr().out)


def test_a_resume_logs_the_rows_of_a_last_checkpoint_killed_after_its_row(tiny_home, tmp_path, capsys):
    from catalog import Catalog

    home = tmp_path / "home"
    home.mkdir()
    catalog = home / "catalog.duckdb"
    shutil.copy(tiny_home.catalog, catalog)
    out = (tmp_path / "run").resolve()
    with Catalog.open(catalog) as cat:  # as train_step records it: its parameters name the run folder
        run_id = cat.start_run("train", {"out_dir": str(out)})
    cfg = tiny_cfg(tiny_home, out, catalog=str(catalog), steps=4, log_every=2, checkpoint_every=2, keep_last=0,
                   shuffle_buffer=16)
    hook = CatalogRegistrar(str(catalog), run_id, cfg.manifest, 1, cfg.model)

    def killed_after_the_row_of_4(path, step, rows):
        if step == 4:  # what the hook does first, then the kill (its hold point train.checkpoint-registered)
            with Catalog.open(catalog) as cat:
                cat.register_checkpoint(run_id, path, {"steps": step, "model": cfg.model, **content_digest(path)},
                                        cfg.manifest, 1, step)
            raise Killed
        hook(path, step, rows)

    with pytest.raises(Killed):
        train(cfg, on_checkpoint=killed_after_the_row_of_4)
    last = out / "checkpoint-0000004"
    ids = _sql(catalog, "SELECT checkpoint_id FROM checkpoints WHERE uri = ?", [str(last)])
    assert len(ids) == 1 and _rows_of(catalog, last) == []

    rc, result = _resume(home, tiny_home, out, capsys)
    assert rc == 0 and result["run_id"] is not None and result["steps"] == 4
    assert _sql(catalog, "SELECT checkpoint_id FROM checkpoints WHERE uri = ?", [str(last)]) == ids  # the same row
    window = _rows_of(catalog, last)
    assert {s for s, _ in window} == {4} and len(window) == len(set(window)) and ("train_fm_loss" in {n for _, n in window})
    assert not (out / "checkpoint-0000006").exists()

    rc, again = _resume(home, tiny_home, out, capsys)  # every row in now: nothing to train, no run recorded
    assert rc == 0 and again["run_id"] is None and again["nothing_to_train"]
    assert again["checkpoint_id"] == ids[0][0] and _rows_of(catalog, last) == window
