"""training/catalog_hook.py's part in a resume after a kill (bench/mutation module catalog_hook): the log windows'
rows a checkpoint folder records (recorded_rows), those the catalog lacks (rows_not_logged), and the hook called
with no rows, as a --resume calls it for the folder it continues: each recorded row logged once, however often."""

from __future__ import annotations

import json

from catalog import Catalog
from tests.training.test_mutation_killers_catalog_hook import _folder, _sql, _window, registrar  # noqa: F401
from training.catalog_hook import recorded_rows, rows_not_logged
from training.state import CATALOG_ROWS, STATE_JSON


def _record(ckpt, rows) -> None:
    (ckpt / STATE_JSON).write_text(json.dumps({CATALOG_ROWS: rows, "step": 4}))


def test_recorded_rows_are_train_state_jsons_catalog_rows_or_none(tmp_path):
    ckpt = _folder(tmp_path, 4)
    assert recorded_rows(str(ckpt)) == []  # no train_state.json
    (ckpt / STATE_JSON).write_text(json.dumps({"step": 4}))
    assert recorded_rows(str(ckpt)) == []  # written before rows were recorded
    (ckpt / STATE_JSON).write_text(json.dumps([_window(2, 1, 0.9)]))
    assert recorded_rows(str(ckpt)) == []  # not a state file's shape
    rows = [_window(2, 1, 0.9), _window(4, 3, 0.7)]
    _record(ckpt, rows)
    assert recorded_rows(str(ckpt)) == rows
    (ckpt / STATE_JSON).unlink()
    (ckpt / STATE_JSON).mkdir()  # not a file
    assert recorded_rows(str(ckpt)) == []


def test_rows_not_logged_are_those_whose_step_has_no_window_metric_of_this_checkpoint(tmp_path, registrar):  # noqa: F811
    ckpt, other = _folder(tmp_path, 4), _folder(tmp_path, 6)
    rows = [_window(2, 1, 0.9), _window(4, 3, 0.7), {**_window(6, 5, 0.5), "step": "6"}]
    with Catalog.open(registrar.catalog) as cat:
        cid = cat.register_checkpoint(registrar.run_id, str(ckpt), {"steps": 4})
        oid = cat.register_checkpoint(registrar.run_id, str(other), {"steps": 6})
        assert rows_not_logged(cat, cid, rows) == rows
        cat.log_metrics(registrar.run_id, {"fid": 1.0}, step=2, split="train", checkpoint_id=cid)  # no window metric
        cat.log_metrics(registrar.run_id, {"lr": 1e-3}, step=4, split="holdout", checkpoint_id=cid)  # another split
        cat.log_metrics(registrar.run_id, {"lr": 1e-3}, step=6, split="train", checkpoint_id=oid)  # another checkpoint
        assert rows_not_logged(cat, cid, rows) == rows
        cat.log_metrics(registrar.run_id, {"skipped_steps": 0}, step=4, split="train", checkpoint_id=cid)
        cat.log_metrics(registrar.run_id, {"tokens_per_s": 9.0}, step=6, split="train", checkpoint_id=cid)
        assert rows_not_logged(cat, cid, rows) == [rows[0]]  # "6" read as step 6


def test_the_hook_without_rows_logs_the_rows_the_folder_records_once(tmp_path, registrar):  # noqa: F811
    """A --resume's hook for the folder it continues (rows []): those a kill kept out of the catalog."""
    ckpt = _folder(tmp_path, 4)
    rows = [_window(2, 1, 0.9), _window(4, 3, 0.7)]
    _record(ckpt, rows)
    registrar(str(ckpt), 4, rows[:1])  # the killed run: its row and its first window's metrics, then the kill
    registrar(str(ckpt), 4, [])
    registrar(str(ckpt), 4, [])
    logged = _sql(registrar, "SELECT step, name, value FROM metrics WHERE split = 'train' ORDER BY step, name")
    expected = sorted((r["step"], n, v) for r in rows for n, v in r.items() if n not in ("step", "window_start"))
    assert logged == expected
    assert len(registrar.checkpoint_ids) == 3 and len(set(registrar.checkpoint_ids)) == 1


def test_the_hook_with_rows_logs_them_as_given(tmp_path, registrar):  # noqa: F811
    """A training's own checkpoint: its rows, not the folder's records (a stale file is not read)."""
    ckpt = _folder(tmp_path, 4)
    _record(ckpt, [_window(2, 1, 0.1)])
    registrar(str(ckpt), 4, [_window(4, 3, 0.7)])
    assert _sql(registrar, "SELECT DISTINCT step FROM metrics WHERE split = 'train'") == [(4,)]


def test_the_hook_holds_where_the_fault_suite_aims_its_kills(tmp_path, registrar, monkeypatch):  # noqa: F811
    """Published, no row yet; its row written, its windows' rows not yet (contracts/hold_points.py's names)."""
    import training.catalog_hook as hook

    seen = []

    def hold(name):  # at the second the hook holds the catalog open: counted from the first only
        seen.append((name, _sql(registrar, "SELECT count(*) FROM checkpoints")[0][0] if not seen else None))

    monkeypatch.setattr(hook, "hold_point", hold)
    registrar(str(_folder(tmp_path, 4)), 4, [_window(4, 3, 0.7)])
    assert seen == [("train.checkpoint-published", 0), ("train.checkpoint-registered", None)]
