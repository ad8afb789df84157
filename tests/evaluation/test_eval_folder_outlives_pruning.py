"""An evaluation's renders outlive keep_last: they went to <checkpoint>/eval/..., and pruning the
checkpoint deleted them with it, even while the evaluation ran (helper F's walkthrough: evaluate
checkpoint-0000010 while its run trains with --checkpoint-every 5 --keep-last 1; the evaluation
ended "completed" and its metrics.json and samples.png were gone)."""

from __future__ import annotations

from pathlib import Path

from evaluation.config import default_out_dir


def test_a_runs_checkpoint_is_evaluated_into_the_runs_eval_folder(tmp_path):
    run = tmp_path / "runs" / "r1"
    out = Path(default_out_dir(str(run / "checkpoint-0000010"), "m-holdout@v2"))
    assert out == run / "eval" / "checkpoint-0000010" / "m-holdout@v2"


def test_pruning_the_checkpoint_leaves_its_evaluation(tmp_path):
    from training.state import prune

    run = tmp_path / "r1"
    for step in (5, 10, 15):
        (run / f"checkpoint-{step:07d}").mkdir(parents=True)
    out = Path(default_out_dir(str(run / "checkpoint-0000005"), "m@v1"))
    out.mkdir(parents=True)
    (out / "metrics.json").write_text("{}")
    assert [p.name for p in prune(run, keep_last=1)] == ["checkpoint-0000005", "checkpoint-0000010"]
    assert (out / "metrics.json").is_file()


def test_a_checkpoint_that_is_no_runs_keeps_its_own_eval_folder(tmp_path):
    release = tmp_path / "lumina-next-t2i-converted"
    assert Path(default_out_dir(str(release), "m@v1")) == release / "eval" / "m@v1"
