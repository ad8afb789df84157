"""Schema v11: latest_metrics says which evaluation each figure comes from.

It kept each checkpoint's last value of each metric whatever logged it, with no column for the
manifest the evaluation read or the settings it sampled at (its `manifest` is the checkpoint's
training manifest): a checkpoint's heldout_fm_loss from one held-out manifest sat beside its
class_accuracy from a `--steps 1` run on another, and only a join with runs.parameters (README)
told them apart. evaluation_metrics keeps the last value per evaluation, so an earlier evaluation
at the settings another checkpoint was evaluated at is still there to compare with."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pytest

from catalog import Catalog

T0 = datetime(2026, 1, 1)
EVAL = {"checkpoint": "ckpt-a", "manifest": "demo-holdout", "manifest_version": None, "steps": 30, "solver": "euler",
        "cfg_scale": 4.0, "shift": 1.0, "samples_per_class": 10, "seed": 0, "max_heldout": 4096, "grid_size": 16}
SETTINGS = ("evaluated_manifest", "evaluated_manifest_version", "sampling_steps", "solver", "cfg_scale", "shift",
            "samples_per_class", "seed", "max_heldout")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """Checkpoint a (trained by a train run) evaluated three times: at the defaults on demo-holdout
    (v1 then; v2 is made later) twice, then at --steps 1 on other-holdout@v1; checkpoint b trained
    and evaluated by a data_to_model run, its held-out manifest made in the run (v2)."""
    import json

    path = tmp_path_factory.mktemp("v11") / "c.duckdb"
    with Catalog.open(path):
        pass
    con = duckdb.connect(str(path))
    for name, version, t in (("demo-holdout", 1, 1), ("other-holdout", 1, 1), ("demo-holdout", 2, 20)):
        con.execute("INSERT INTO manifests VALUES (?, ?, 'true', '', '{}', 1, 0, ?)", [name, version, at(t)])
    d2m = {"manifest_prefix": "demo", "evaluation": {"samples_per_class": 2, "steps": 5, "cfg_scale": 6.0}}
    runs = [("train-a", "train", {"steps": 10}, 0), ("eval-0", "evaluate", EVAL, 2), ("eval-1", "evaluate", EVAL, 4),
            ("eval-2", "evaluate", {**EVAL, "manifest": "other-holdout@v1", "steps": 1}, 6), ("d2m-b", "data_to_model", d2m, 8)]
    for run_id, flow, params, t in runs:
        con.execute("INSERT INTO runs (run_id, flow_name, parameters, code_version, started_at, ended_at, status) "
                    "VALUES (?, ?, ?, 'abc', ?, ?, 'completed')", [run_id, flow, json.dumps(params), at(t), at(t + 1)])
    for ckpt, run, manifest in (("ckpt-a", "train-a", "demo-train"), ("ckpt-b", "d2m-b", "demo-train")):
        con.execute("INSERT INTO checkpoints VALUES (?, ?, ?, ?, 1, 10, '{}', ?)", [ckpt, f"/runs/{ckpt}", run, manifest, at(1)])
    metrics = [("train-a", "ckpt-a", "loss", 0.5, "train", 1), ("eval-0", "ckpt-a", "class_accuracy", 0.5, "holdout", 3),
               ("eval-1", "ckpt-a", "heldout_fm_loss", 1.0, "holdout", 5), ("eval-1", "ckpt-a", "class_accuracy", 0.9, "holdout", 5),
               ("eval-2", "ckpt-a", "class_accuracy", 0.1, "holdout", 7),
               ("d2m-b", "ckpt-b", "loss", 0.4, "train", 9), ("d2m-b", "ckpt-b", "heldout_fm_loss", 1.5, "holdout", 25)]
    for run_id, ckpt, name, value, split, t in metrics:
        con.execute("INSERT INTO metrics (run_id, checkpoint_id, name, value, step, split, logged_at) VALUES (?, ?, ?, ?, 10, ?, ?)",
                    [run_id, ckpt, name, value, split, at(t)])
    con.close()
    return path


def _rows(path, view: str) -> dict[tuple, tuple]:
    with Catalog.open(path, read_only=True) as cat:
        cols, rows = cat.sql(f"SELECT checkpoint_id, name, split, run_id, flow_name, value, {', '.join(SETTINGS)} FROM {view}")
    return rows


def test_latest_metrics_names_the_manifest_and_settings_each_figure_was_measured_with(catalog):
    rows = {r[:3]: r[3:] for r in _rows(catalog, "latest_metrics")}
    defaults = (30, "euler", 4.0, 1.0, 10, 0, 4096)
    assert rows == {
        # the figures of two evaluations side by side, now told apart in the row
        ("ckpt-a", "heldout_fm_loss", "holdout"): ("eval-1", "evaluate", 1.0, "demo-holdout", 1, *defaults),
        ("ckpt-a", "class_accuracy", "holdout"): ("eval-2", "evaluate", 0.1, "other-holdout", 1, 1, *defaults[1:]),
        ("ckpt-a", "loss", "train"): ("train-a", "train", 0.5, *[None] * 9),  # training's own log: no evaluation
        ("ckpt-b", "loss", "train"): ("d2m-b", "data_to_model", 0.4, *[None] * 9),
        # data_to_model: its held-out manifest, the version it made; the settings its evaluation recorded
        ("ckpt-b", "heldout_fm_loss", "holdout"): ("d2m-b", "data_to_model", 1.5, "demo-holdout", 2, 5, None, 6.0, None, 2,
                                                   None, None),
    }


def test_evaluation_metrics_keeps_the_last_figure_of_each_evaluation(catalog):
    rows = sorted(_rows(catalog, "evaluation_metrics"), key=lambda r: (r[0], r[1], r[3]))
    assert [(r[0], r[1], r[3], r[5], r[6], r[7], r[8]) for r in rows] == [
        ("ckpt-a", "class_accuracy", "eval-1", 0.9, "demo-holdout", 1, 30),  # eval-0's 0.5 at the same settings: older
        ("ckpt-a", "class_accuracy", "eval-2", 0.1, "other-holdout", 1, 1),
        ("ckpt-a", "heldout_fm_loss", "eval-1", 1.0, "demo-holdout", 1, 30),
        ("ckpt-b", "heldout_fm_loss", "d2m-b", 1.5, "demo-holdout", 2, 5),
    ]
