"""flows/steps.py's resume after a kill, function by function, on hand-made catalogs and run folders (bench/mutation
module resume_steps): which run folder a bare --resume continues (_resumable_run_dir and its parts), the run a kill
stopped before it registered its first checkpoint, whether the catalog knows a run folder, a checkpoint's id (in a
moved workspace too) and a registered checkpoint whose log windows' rows are missing. The trainings of
test_resume_after_a_kill.py and test_resume_safety.py reach these too, at ~10 s of fixture each."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from catalog import Catalog
from contracts.layout import Workspace, from_last_runs
from flows import steps
from training.state import CATALOG_ROWS, STATE_JSON


def _ckpt(folder: Path, step: int, state: bool = True, trained: int | None = None, budget: int | None = None,
          rows: list | None = None) -> Path:
    """checkpoint-<step> in ``folder``: config.json, train_state.json (``state``, with ``rows`` as its
    catalog rows) and training.json when ``trained`` (its steps) and ``budget`` (--steps) are given."""
    path = folder / f"checkpoint-{step:07d}"
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    if state:
        (path / STATE_JSON).write_text(json.dumps({CATALOG_ROWS: rows} if rows is not None else {}))
    if trained is not None:
        (path / "training.json").write_text(json.dumps({"steps": trained, "train_config": {"steps": budget}}))
    return path


@pytest.fixture
def home(tmp_path) -> Path:
    home = tmp_path / "home"
    Catalog.open(home / "catalog.duckdb").close()
    return home.resolve()


def _cat(home: Path) -> str:
    return str(home / "catalog.duckdb")


def _run(home: Path, flow: str = "train", run_id: str | None = None, **params) -> str:
    with Catalog.open(_cat(home)) as cat:
        return cat.start_run(flow, params, run_id=run_id)


def _register(home: Path, run_id: str, path: Path, manifest: str = "m", step: int = 0) -> str:
    with Catalog.open(_cat(home)) as cat:  # no manifest rows here: its name written in afterwards
        cid = cat.register_checkpoint(run_id, str(path), {"steps": step}, None, None, step)
        cat.sql("UPDATE checkpoints SET manifest = ?, manifest_version = 1 WHERE checkpoint_id = ?", [manifest, cid])
    return cid


# --------------------------------------------------------------------------- small parts


def test_stopped_early_reads_training_json_steps_against_its_budget(tmp_path):
    assert steps._stopped_early(_ckpt(tmp_path / "a", 1, trained=3, budget=4))
    assert not steps._stopped_early(_ckpt(tmp_path / "b", 1, trained=4, budget=4))
    assert not steps._stopped_early(_ckpt(tmp_path / "c", 1, trained=5, budget=4))
    assert steps._stopped_early(_ckpt(tmp_path / "d", 1, trained="9", budget="10"))  # compared as numbers
    assert not steps._stopped_early(_ckpt(tmp_path / "e", 1))  # no training.json
    for bad in ("{", json.dumps({"steps": 3}), json.dumps({"steps": None, "train_config": {"steps": 4}}),
                json.dumps({"steps": "x", "train_config": {"steps": 4}})):
        (tmp_path / "f").mkdir(exist_ok=True)
        (tmp_path / "f" / "training.json").write_text(bad)
        assert not steps._stopped_early(tmp_path / "f")


def test_the_run_to_continue_is_the_newest_stopped_early_else_the_newest(tmp_path):
    done, early, early_older = (_ckpt(tmp_path / n, 1, trained=t, budget=4) for n, t in (("a", 4), ("b", 2), ("c", 1)))
    assert steps._run_to_continue({Path("A"): done, Path("B"): early, Path("C"): early_older}) == Path("B")
    assert steps._run_to_continue({Path("A"): done, Path("C"): done}) == Path("A")


def test_run_relative_and_own_workspace_take_the_part_from_the_last_runs(home, tmp_path):
    uri = "/old/runs/x/runs/r1/checkpoint-0000002"
    assert from_last_runs(uri) == ("runs", "r1", "checkpoint-0000002")
    assert from_last_runs("/old/elsewhere/checkpoint-0000002") is None
    assert steps._in_own_workspace(_cat(home), uri) is None  # not under this workspace
    own = _ckpt(home / "runs" / "r1", 2)
    assert steps._in_own_workspace(_cat(home), uri) == str(own)
    assert steps._in_own_workspace(_cat(home), "/old/deeper/runs/r1/checkpoint-0000002") == str(own)
    assert steps._in_own_workspace(_cat(home), "/old/elsewhere/checkpoint-0000002") is None


def test_runs_on_disk_newest_run_first_with_its_newest_and_newest_resumable(home, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a4, a3, a2 = _ckpt(a, 4, state=False), _ckpt(a, 3), _ckpt(a, 2)
    b1 = _ckpt(b, 1, state=False)
    gone = tmp_path / "c" / "checkpoint-0000009"
    moved = _ckpt(home / "runs" / "r", 5)  # recorded in the workspace it was copied from
    runs = steps._runs_on_disk(_cat(home), [str(gone), str(a4), str(b1), str(a3), str(a2),
                                            "/old/runs/r/checkpoint-0000005"])
    assert list(runs.items()) == [(a, (a4, a3)), (b, (b1, None)), (moved.parent, (moved, moved))]


# --------------------------------------------------------------------------- what the catalog knows


def test_run_folder_known_by_a_checkpoint_under_it_or_a_train_run_that_wrote_there(home, tmp_path, monkeypatch):
    run = _run(home, out_dir="/unused")
    folder = (tmp_path / "run").resolve()
    _register(home, run, _ckpt(tmp_path / "run2", 1))  # a sibling folder whose name starts with "run"
    assert not steps.run_folder_known(_cat(home), str(folder))
    _register(home, run, _ckpt(folder, 1))
    monkeypatch.chdir(tmp_path)
    assert steps.run_folder_known(_cat(home), "run")  # resolved before it is compared

    other = (tmp_path / "out").resolve()
    _run(home, "evaluate", out_dir=str(other))
    assert not steps.run_folder_known(_cat(home), str(other))  # another flow's folder
    _run(home, out_dir=str(other))
    assert steps.run_folder_known(_cat(home), str(other))
    assert not steps.run_folder_known(_cat(home), str(tmp_path / "ws" / "runs" / "train-x"))
    _run(home, run_id="train-x")  # the workspace's runs/<run_id>: no out_dir recorded
    assert steps.run_folder_known(_cat(home), str(tmp_path / "ws" / "runs" / "train-x"))
    _run(home, "evaluate", run_id="evaluate-y")
    assert not steps.run_folder_known(_cat(home), str(tmp_path / "ws" / "runs" / "evaluate-y"))


def test_checkpoint_id_of_its_own_uri_or_its_copy_in_a_moved_workspace(home, tmp_path):
    run = _run(home)
    here = _ckpt(tmp_path / "x", 2)
    cid = _register(home, run, here, step=2)
    assert steps.checkpoint_id_of(_cat(home), str(here)) == cid
    assert steps.checkpoint_id_of(_cat(home), str(tmp_path / "x" / "checkpoint-0000004")) is None  # no runs/ part
    old = _register(home, run, Path("/old/runs/r/checkpoint-0000002"), step=2)
    _register(home, run, Path("/old/runs/other/checkpoint-0000002"), step=2)  # the same name in another run
    _register(home, run, Path("/old/runs/r/checkpoint-0000012"), step=12)  # LIKE '%checkpoint-0000002' finds it too
    copy = home / "runs" / "r" / "checkpoint-0000002"
    assert steps.checkpoint_id_of(_cat(home), str(copy)) == old  # matched by its runs/<run>/checkpoint-N alone
    _ckpt(home / "runs" / "r", 2)  # the moved workspace's own copy on disk: the same
    assert steps.checkpoint_id_of(_cat(home), str(copy)) == old
    own = _register(home, run, copy, step=2)  # this workspace's own row too, asked for through a symlink
    (tmp_path / "link").symlink_to(home)
    linked = str(tmp_path / "link" / "runs" / "r" / "checkpoint-0000002")
    assert steps.checkpoint_id_of(_cat(home), linked) == own  # of two rows, the one recorded at this very folder
    _register(home, run, Path("/older/runs/r/checkpoint-0000002"), step=2)  # two workspaces' runs named r
    assert steps.checkpoint_id_of(_cat(home), linked) == own  # of three
    assert steps.checkpoint_id_of(_cat(home), str(copy)) == own  # and by its own spelling
    elsewhere = str(tmp_path / "elsewhere" / "runs" / "r" / "checkpoint-0000002")
    assert steps.checkpoint_id_of(_cat(home), elsewhere) is None  # several rows, none of them this folder: which?


def test_registered_without_its_rows_when_a_recorded_window_row_is_missing(home, tmp_path):
    run = _run(home)
    rows = [{"step": 2, "window_start": 1, "train_fm_loss": 1.0}, {"step": 4, "window_start": 3, "train_fm_loss": 0.5}]
    ckpt = _ckpt(tmp_path / "run", 4, rows=rows)
    assert not steps.registered_without_its_rows(_cat(home), str(ckpt))  # not registered: for run_folder_known
    cid = _register(home, run, ckpt, step=4)
    assert steps.registered_without_its_rows(_cat(home), str(ckpt))
    with Catalog.open(_cat(home)) as cat:
        cat.log_metrics(run, {"train_fm_loss": 1.0}, step=2, split="train", checkpoint_id=cid)
        cat.log_metrics(run, {"eval_loss": 1.0}, step=4, split="train", checkpoint_id=cid)  # no window metric
    assert steps.registered_without_its_rows(_cat(home), str(ckpt))
    with Catalog.open(_cat(home)) as cat:
        cat.log_metrics(run, {"grad_norm": 0.1}, step=4, split="train", checkpoint_id=cid)
    assert not steps.registered_without_its_rows(_cat(home), str(ckpt))
    # a folder that records no rows (written before they were recorded, or none): nothing to say
    assert not steps.registered_without_its_rows(_cat(home), str(_ckpt(tmp_path / "old", 4)))
    bare = _ckpt(tmp_path / "bare", 4, state=False)
    _register(home, run, bare, step=4)
    assert not steps.registered_without_its_rows(_cat(home), str(bare))


# --------------------------------------------------------------------------- the run a bare --resume continues


def test_the_run_stopped_before_registering_is_the_newest_with_a_resumable_checkpoint(home, tmp_path):
    assert steps._run_stopped_before_registering(_cat(home), "m", None) is None
    older = _run(home, manifest="m")  # its workspace folder: runs/<run_id>
    _ckpt(home / "runs" / older, 2)
    newest_done = tmp_path / "elsewhere"
    _run(home, manifest="m", out_dir=str(newest_done))
    _ckpt(newest_done, 2)
    _ckpt(newest_done, 4, state=False)  # its newest has no resume state
    other = tmp_path / "other"
    _run(home, manifest="m2", out_dir=str(other))
    _ckpt(other, 2)
    _run(home, "evaluate", manifest="m", out_dir=str(other))
    _run(home, manifest="m", out_dir=str(tmp_path / "empty"))  # the newest: no checkpoint at all
    assert steps._run_stopped_before_registering(_cat(home), "m", None) == str(home / "runs" / older)
    ws = Workspace(tmp_path / "ws")  # the workspace given: its runs/ folder is looked in
    assert steps._run_stopped_before_registering(_cat(home), "m", ws) is None
    _ckpt(ws.run_dir(older), 3)
    assert steps._run_stopped_before_registering(_cat(home), "m", ws) == str(ws.run_dir(older))
    assert steps._run_stopped_before_registering(_cat(home), "m2", ws) == str(other)


def test_a_bare_resume_continues_the_run_a_kill_stopped_before_its_first_registration(home, caplog):
    run = _run(home, manifest="m")
    _ckpt(home / "runs" / run, 2)
    with caplog.at_level(logging.WARNING, logger=steps.log.name):
        assert steps._resumable_run_dir(_cat(home), "m") == str(home / "runs" / run)
    assert "stopped before it registered its first checkpoint" in caplog.text
    with pytest.raises(FileNotFoundError, match="manifest 'm2' has no checkpoint in the catalog"):
        steps._resumable_run_dir(_cat(home), "m2")


def test_a_bare_resume_continues_the_newest_run_stopped_early_else_the_newest(home, tmp_path, caplog):
    run = _run(home, manifest="m")
    done, early = home / "runs" / "done", home / "runs" / "early"
    _register(home, run, _ckpt(early, 2, trained=2, budget=8), step=2)
    _register(home, run, _ckpt(early, 4, trained=4, budget=8), step=4)
    _register(home, run, _ckpt(done, 2, trained=2, budget=2), step=2)  # the newest run: finished
    _register(home, run, _ckpt(tmp_path / "m2", 9, trained=1, budget=9), manifest="m2", step=9)
    with caplog.at_level(logging.INFO, logger=steps.log.name):
        assert steps._resumable_run_dir(_cat(home), "m") == str(early)
    assert f"continuing {early}, which stopped before its step budget; the newest run, {done}" in caplog.text
    assert "outside this workspace" not in caplog.text
    caplog.clear()
    _register(home, run, _ckpt(done, 3, trained=3, budget=8), step=3)  # now the newest stopped early too
    with caplog.at_level(logging.INFO, logger=steps.log.name):
        assert steps._resumable_run_dir(_cat(home), "m") == str(done)
    assert caplog.text == ""
    with caplog.at_level(logging.INFO, logger=steps.log.name):  # outside the workspace: said
        assert steps._resumable_run_dir(_cat(home), "m2") == str(tmp_path / "m2")
    assert "outside this workspace" in caplog.text


def test_a_bare_resume_refuses_runs_without_resume_state(home, tmp_path):
    run = _run(home, manifest="m")
    _register(home, run, _ckpt(home / "runs" / "a", 2, state=False, trained=2, budget=8), step=2)
    _register(home, run, tmp_path / "gone" / "checkpoint-0000003", step=3)
    with pytest.raises(FileNotFoundError, match=r"none of the 2 registered checkpoints of manifest 'm' is on disk"):
        steps._resumable_run_dir(_cat(home), "m")
    _register(home, run, _ckpt(home / "runs" / "b", 1, trained=1, budget=1), step=1)  # the newest: finished, resumable
    with pytest.raises(FileNotFoundError, match=r"the run of manifest 'm' to continue, .*/runs/a, has no checkpoint "
                                                r"with its resume state.*give --out-dir .*/runs/b to continue"):
        steps._resumable_run_dir(_cat(home), "m")


def test_a_bare_resume_looks_for_a_killed_run_in_the_workspace_given(home, tmp_path):
    """The workspace (--home) and the catalog (--catalog) apart: the killed run's folder is the workspace's."""
    run = _run(home, manifest="m")
    ws = Workspace(tmp_path / "ws")
    _ckpt(ws.run_dir(run), 2)
    assert steps._resumable_run_dir(_cat(home), "m", ws) == str(ws.run_dir(run))


@pytest.mark.parametrize("call", [
    lambda cat, tmp: steps.run_folder_known(cat, str(tmp)),
    lambda cat, tmp: steps.registered_without_its_rows(cat, str(_ckpt(tmp, 2, rows=[{"step": 2}]))),
    lambda cat, tmp: steps.checkpoint_id_of(cat, str(tmp / "runs" / "r" / "checkpoint-0000002")),
    lambda cat, tmp: steps._run_stopped_before_registering(cat, "m", None),
    lambda cat, tmp: steps._resumable_run_dir(cat, "m"),
], ids=["run_folder_known", "registered_without_its_rows", "checkpoint_id_of", "_run_stopped_before_registering",
        "_resumable_run_dir"])
def test_each_look_up_opens_the_catalog_read_only_and_creates_none(tmp_path, call):
    from catalog.db import CatalogNotFoundError

    catalog = tmp_path / "home" / "catalog.duckdb"
    with pytest.raises(CatalogNotFoundError):
        call(str(catalog), tmp_path / "run")
    assert not catalog.parent.exists()
