"""A kill between publishing a run's LAST checkpoint and registering it (the fault suite's moment
train-last): `lumina train --resume` found the folder at its step budget, said "nothing to train"
and exited 0, so the checkpoint and its log windows' rows never reached the catalog. The resume
now registers them (training nothing); a run folder this catalog never knew still trains nothing
and records no run."""

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


def _rows_of(catalog, ckpt):
    """(step, metric) rows registered with checkpoint folder ``ckpt``."""
    return sorted(_sql(catalog, "SELECT m.step, m.name FROM metrics m JOIN checkpoints c USING (checkpoint_id) "
                                "WHERE c.uri = ? AND m.split = 'train'", [str(ckpt)]))


def _killed_run(tiny_home, tmp_path, every: int):
    """A 4-step run under a catalog run of its own, killed after publishing checkpoint-0000004."""
    from catalog import Catalog

    home = tmp_path / "home"
    home.mkdir()
    catalog = home / "catalog.duckdb"
    shutil.copy(tiny_home.catalog, catalog)
    out = (tmp_path / "run").resolve()
    with Catalog.open(catalog) as cat:  # as train_step records it: its parameters name the run folder
        run_id = cat.start_run("train", {"out_dir": str(out)})
    cfg = tiny_cfg(tiny_home, out, catalog=str(catalog), steps=4, log_every=2, checkpoint_every=every, keep_last=0,
                   shuffle_buffer=16)
    hook = CatalogRegistrar(str(catalog), run_id, cfg.manifest, 1, cfg.model)

    def killed_before_registering_4(path, step, rows):
        if step == 4:
            raise Killed
        hook(path, step, rows)

    with pytest.raises(Killed):
        train(cfg, on_checkpoint=killed_before_registering_4)
    return home, catalog, out


def _resume(home, tiny_home, out, capsys):
    from flows.cli import main

    rc = main(["train", "--home", str(home), "--manifest", tiny_home.train_manifest, "--null-caption",
               tiny_home.null_caption, "--resume", "--out-dir", str(out), "--json"])
    return rc, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("every", [2, 4], ids=["an earlier checkpoint registered", "its only checkpoint"])
def test_a_resume_registers_the_last_checkpoint_a_kill_left_out_of_the_catalog(tiny_home, tmp_path, capsys, every):
    home, catalog, out = _killed_run(tiny_home, tmp_path, every)
    last = out / "checkpoint-0000004"
    assert last.is_dir() and not _sql(catalog, "SELECT 1 FROM checkpoints WHERE uri = ?", [str(last)])

    rc, result = _resume(home, tiny_home, out, capsys)
    assert rc == 0 and result["run_id"] is not None and result["steps"] == 4
    ids = _sql(catalog, "SELECT checkpoint_id, step FROM checkpoints WHERE uri = ?", [str(last)])
    assert [s for _, s in ids] == [4]
    # the log windows' rows handed over with it, each once: steps 3-4's, and 1-2's too when no checkpoint came
    # after them before it
    window = [(s, n) for s, n in _rows_of(catalog, last)]
    assert {s for s, _ in window} == ({4} if every == 2 else {2, 4}) and len(window) == len(set(window))
    assert ("train_fm_loss" in {n for _, n in window}) and not (out / "checkpoint-0000006").exists()

    rc, again = _resume(home, tiny_home, out, capsys)  # registered now: nothing to train, no run recorded
    assert rc == 0 and again["run_id"] is None and again["nothing_to_train"]
    assert again["checkpoint_id"] == ids[0][0] and _rows_of(catalog, last) == window


def test_a_finished_run_folder_the_catalog_never_knew_is_not_registered(tiny_home, tmp_path, capsys):
    """A run folder copied in from elsewhere: the catalog knows neither its checkpoints nor a run that
    wrote there, so a resume at its step budget trains nothing and records nothing (as before)."""
    home, catalog, out = _killed_run(tiny_home, tmp_path, 4)
    moved = (tmp_path / "elsewhere").resolve()
    shutil.move(out, moved)
    runs = _sql(catalog, "SELECT count(*) FROM runs")[0][0]
    rc, result = _resume(home, tiny_home, moved, capsys)
    assert rc == 0 and result["run_id"] is None and result["nothing_to_train"]
    assert _sql(catalog, "SELECT count(*) FROM runs")[0][0] == runs
    assert not _sql(catalog, "SELECT 1 FROM checkpoints WHERE starts_with(uri, ?)", [str(moved)])
