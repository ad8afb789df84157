"""`lumina train --resume` after a kill between a checkpoint's publishing and its registration (the
fault suite's hold points; each case here stands the kill in with an exception the trainer does not
handle). Each of these lost data before:
- the LAST checkpoint published, not registered (moment train-last): the resume said "nothing to
  train" and exited 0, so the checkpoint and its log windows' rows never reached the catalog;
- the LAST checkpoint registered, its log windows' rows not (train-last-registered): the same early
  return lost the rows, and the killed run stayed 'running';
- the FIRST checkpoint published, not registered (train-first-resume): a bare --resume found no
  checkpoint of the manifest in the catalog and refused, so the steps trained were thrown away.
A run folder the catalog never knew, and a manifest whose killed run left no checkpoint, are
treated as before."""

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
    """(step, metric) rows registered with checkpoint folder ``ckpt``."""
    return sorted(_sql(catalog, "SELECT m.step, m.name FROM metrics m JOIN checkpoints c USING (checkpoint_id) "
                                "WHERE c.uri = ? AND m.split = 'train'", [str(ckpt)]))


def _killed_run(tiny_home, tmp_path, kill, every: int = 2, out=None):
    """A 4-step run (log windows every 2 steps, checkpoints every ``every``) under a catalog run of its
    own, as train_step records it, in a copy of the shared catalog; ``kill(hook, path, step, rows)``
    stands in for the catalog hook (None: no kill). ``out`` None: the workspace's own runs/<run_id>
    (train_step records no out_dir then), else that folder (recorded as out_dir)."""
    from catalog import Catalog

    home = tmp_path / "home"
    home.mkdir()
    catalog = home / "catalog.duckdb"
    shutil.copy(tiny_home.catalog, catalog)
    with Catalog.open(catalog) as cat:
        run_id = cat.start_run("train", {"manifest": tiny_home.train_manifest, "out_dir": str(out) if out else None})
    out = out or home / "runs" / run_id
    cfg = tiny_cfg(tiny_home, out, catalog=str(catalog), steps=4, log_every=2, checkpoint_every=every, keep_last=0,
                   shuffle_buffer=16)
    hook = CatalogRegistrar(str(catalog), run_id, cfg.manifest, 1, cfg.model)
    if kill is not None:
        with pytest.raises(Killed):
            train(cfg, on_checkpoint=lambda *a: kill(hook, *a))
    return home, catalog, out


def _resume(home, tiny_home, capsys, out=None):
    """`lumina train --resume [--out-dir out] --json` -> (exit code, its JSON, or stderr when refused)."""
    from flows.cli import main

    rc = main(["train", "--home", str(home), "--manifest", tiny_home.train_manifest, "--null-caption",
               tiny_home.null_caption, "--resume", *(["--out-dir", str(out)] if out else []), "--json"])
    printed, err = capsys.readouterr()
    return rc, (json.loads(printed) if rc == 0 else err)


def _before_registering(at_step):
    def kill(hook, path, step, rows):
        if step == at_step:
            raise Killed
        hook(path, step, rows)
    return kill


@pytest.mark.parametrize("every", [2, 4], ids=["an earlier checkpoint registered", "its only checkpoint"])
def test_a_resume_registers_the_last_checkpoint_a_kill_left_out_of_the_catalog(tiny_home, tmp_path, capsys, every):
    home, catalog, out = _killed_run(tiny_home, tmp_path, _before_registering(4), every, out=(tmp_path / "run").resolve())
    last = out / "checkpoint-0000004"
    assert last.is_dir() and not _sql(catalog, "SELECT 1 FROM checkpoints WHERE uri = ?", [str(last)])

    rc, result = _resume(home, tiny_home, capsys, out)
    assert rc == 0 and result["run_id"] is not None and result["steps"] == 4
    ids = _sql(catalog, "SELECT checkpoint_id, step FROM checkpoints WHERE uri = ?", [str(last)])
    assert [s for _, s in ids] == [4]
    # the log windows' rows handed over with it, each once: steps 3-4's, and 1-2's too when no checkpoint came
    # after them before it
    window = _rows_of(catalog, last)
    assert {s for s, _ in window} == ({4} if every == 2 else {2, 4}) and len(window) == len(set(window))
    assert ("train_fm_loss" in {n for _, n in window}) and not (out / "checkpoint-0000006").exists()

    rc, again = _resume(home, tiny_home, capsys, out)  # registered now: nothing to train, no run recorded
    assert rc == 0 and again["run_id"] is None and again["nothing_to_train"]
    assert again["checkpoint_id"] == ids[0][0] and _rows_of(catalog, last) == window


def test_a_finished_run_folder_the_catalog_never_knew_is_not_registered(tiny_home, tmp_path, capsys):
    """A run folder copied in from elsewhere: the catalog knows neither its checkpoints nor a run that
    wrote there, so a resume at its step budget trains nothing and records nothing (as before)."""
    home, catalog, out = _killed_run(tiny_home, tmp_path, _before_registering(4), 4, out=(tmp_path / "run").resolve())
    moved = (tmp_path / "elsewhere").resolve()
    shutil.move(out, moved)
    runs = _sql(catalog, "SELECT count(*) FROM runs")[0][0]
    rc, result = _resume(home, tiny_home, capsys, moved)
    assert rc == 0 and result["run_id"] is None and result["nothing_to_train"]
    assert _sql(catalog, "SELECT count(*) FROM runs")[0][0] == runs
    assert not _sql(catalog, "SELECT 1 FROM checkpoints WHERE starts_with(uri, ?)", [str(moved)])


def test_a_resume_logs_the_rows_of_a_last_checkpoint_killed_after_its_row(tiny_home, tmp_path, capsys):
    from catalog import Catalog

    out = (tmp_path / "run").resolve()
    catalog = tmp_path / "home" / "catalog.duckdb"

    def after_the_row_of_4(hook, path, step, rows):
        if step == 4:  # what the hook does first, then the kill (its hold point train.checkpoint-registered)
            with Catalog.open(catalog) as cat:
                cat.register_checkpoint(hook.run_id, path, {"steps": step, "model": hook.model, **content_digest(path)},
                                        hook.manifest, 1, step)
            raise Killed
        hook(path, step, rows)

    home, catalog, out = _killed_run(tiny_home, tmp_path, after_the_row_of_4, out=out)
    last = out / "checkpoint-0000004"
    ids = _sql(catalog, "SELECT checkpoint_id FROM checkpoints WHERE uri = ?", [str(last)])
    assert len(ids) == 1 and _rows_of(catalog, last) == []

    rc, result = _resume(home, tiny_home, capsys, out)
    assert rc == 0 and result["run_id"] is not None and result["steps"] == 4
    assert _sql(catalog, "SELECT checkpoint_id FROM checkpoints WHERE uri = ?", [str(last)]) == ids  # the same row
    window = _rows_of(catalog, last)
    assert {s for s, _ in window} == {4} and len(window) == len(set(window)) and ("train_fm_loss" in {n for _, n in window})
    assert not (out / "checkpoint-0000006").exists()

    rc, again = _resume(home, tiny_home, capsys, out)  # every row in now: nothing to train, no run recorded
    assert rc == 0 and again["run_id"] is None and again["nothing_to_train"]
    assert again["checkpoint_id"] == ids[0][0] and _rows_of(catalog, last) == window


def test_a_resume_continues_a_run_killed_before_registering_its_first_checkpoint(tiny_home, tmp_path, capsys):
    home, catalog, out = _killed_run(tiny_home, tmp_path, _before_registering(2))
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
    home, catalog, out = _killed_run(tiny_home, tmp_path, None)  # the run row only: killed before its first checkpoint
    rc, err = _resume(home, tiny_home, capsys)
    assert rc != 0 and "has no checkpoint in the catalog, so there is no run to continue" in err
