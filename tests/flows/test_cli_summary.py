"""The demo's printed summary: one metric per line, its value apart from its name."""

from __future__ import annotations

from flows.cli import _print_summary


def test_every_metric_value_stands_apart_from_its_name(capsys):
    metrics = {"class_accuracy": 0.97, "shape_colour_accuracy": 0.8333, "shape_present_fraction": 0.5}
    _print_summary({"metrics": metrics, "curation": {}, "timings_s": {}, "train_steps": 1, "final_train_loss": 0.1,
                    "checkpoint": "ckpt", "catalog": "cat.duckdb"})
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.split()[:1] and line.split()[0] in metrics}
    assert set(lines) == set(metrics)
    for name, value in metrics.items():
        assert lines[name].split() == [name, f"{value:.4f}"]
    assert len({line.index(line.split()[1]) for line in lines.values()}) == 1  # the values line up


def test_a_training_cut_short_by_the_time_cap_says_so(capsys):
    base = {"metrics": {}, "curation": {}, "timings_s": {}, "final_train_loss": 0.1, "checkpoint": "ckpt", "catalog": "cat.duckdb",
            "train_steps_asked": 800, "train_max_seconds": 420.0}
    _print_summary({**base, "train_steps": 717, "train_stopped_by": "max_seconds"})
    _print_summary({**base, "train_steps": 800, "train_stopped_by": None})
    trains = [line for line in capsys.readouterr().out.splitlines() if line.startswith("train ")]
    assert trains == ["train             717 of 800 steps (the 420 s cap of train_max_seconds), final train loss 0.1000",
                      "train             800 steps, final train loss 0.1000"]


def test_a_stage_summary_keeps_a_gap_after_a_long_key(capsys):
    from flows.result_table import print_result as _print

    _print({"steps": 6, "checkpoint_seconds": 0.147, "shard_uris": ["x"]}, as_json=False)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split() for line in lines] == [["steps", "6"], ["checkpoint_seconds", "0.147"]]


def test_render_paths_stand_apart_from_long_names_and_the_hint_names_the_catalog(capsys):
    renders = {"grid": "/h/grid.png", "wav_bring_eight_apples": "/h/bring_eight_apples.wav"}
    _print_summary({"metrics": {}, "curation": {}, "timings_s": {}, "train_steps": 1, "final_train_loss": 0.1,
                    "checkpoint": "ckpt", "catalog": "/h/catalog.duckdb", "renders": renders})
    lines = capsys.readouterr().out.splitlines()
    shown = {line.split()[0]: line.split()[1:] for line in lines if line.split()[:1] and line.split()[0] in renders}
    assert shown == {k: [v] for k, v in renders.items()}
    assert [line for line in lines if line.startswith("try")][0].endswith("--catalog /h/catalog.duckdb")


def test_a_result_table_leaves_unset_fields_out_and_json_keeps_them(capsys):
    """"stopped_by None" after a run nobody stopped read as if something were wrong."""
    import json

    from flows.result_table import print_result as _print

    _print({"checkpoint": "/runs/r/checkpoint-0000010", "stopped_by": None, "steps": 10}, False)
    out = capsys.readouterr().out
    assert "stopped_by" not in out and "checkpoint" in out and "steps" in out
    _print({"stopped_by": None, "steps": 10}, True)
    assert json.loads(capsys.readouterr().out) == {"stopped_by": None, "steps": 10}


def test_a_result_table_is_read_at_a_glance(capsys):
    """`lumina train` printed "seconds 11.20058536529541" and `lumina evaluate` its metrics as one
    Python dict running on for a screen (helper R's walk of the README): floats to 6 significant
    digits, a dict's or a list's entries one per line beneath its name, empty ones left out."""
    from flows.result_table import print_result as _print

    _print({"steps": 20, "seconds": 11.20058536529541, "checkpoints": ["/r/checkpoint-0000010", "/r/checkpoint-0000020"],
            "metrics": {"heldout_fm_loss": 0.0902025432511483, "num_generated": 100.0}, "notes": [], "renders": {}}, False)
    assert capsys.readouterr().out.splitlines() == [
        "steps             20",
        "seconds           11.2006",
        "checkpoints       /r/checkpoint-0000010",
        "                  /r/checkpoint-0000020",
        "metrics",
        "  heldout_fm_loss  0.0902025",
        "  num_generated    100",
    ]


def test_the_summary_names_the_manifests_it_trained_and_evaluated_on(capsys):
    """On a source they are named after it (image-photos-train@v1): the summary showed them only
    inside the grid's path."""
    _print_summary({"metrics": {}, "curation": {}, "timings_s": {}, "train_steps": 1, "final_train_loss": 0.1,
                    "checkpoint": "ckpt", "catalog": "cat.duckdb",
                    "manifests": {"train": "image-photos-train@v1", "holdout": "image-photos-holdout@v1"}})
    assert "manifests         image-photos-train@v1 (train), image-photos-holdout@v1 (holdout)" in capsys.readouterr().out.splitlines()
