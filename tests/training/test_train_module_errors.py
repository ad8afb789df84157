"""`python -m training.train` (and torchrun) says what a user got wrong in one line, as `lumina train`
does: a missing catalog, a refused --resume or a damaged checkpoint printed a traceback."""

from __future__ import annotations

import pytest


def test_a_user_error_is_one_line_and_exit_2(tmp_path, capsys):
    from training.train import main

    assert main(["--manifest", "nope", "--home", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"python -m training.train: error: no catalog at {tmp_path / 'catalog.duckdb'} (check --home DIR or "
                   f"LUMINA_HOME, or give --catalog FILE; or run lumina curate or lumina demo into that workspace first)"]


def test_run_folder_refusals_leave_no_failed_run_in_the_catalog(tiny_home, tmp_path, capsys):
    """--resume of a folder with nothing to resume, and a new run into a folder holding an earlier
    run's checkpoints, were refused only once a run was recorded: each left a 'failed' run."""
    import json

    from catalog import Catalog
    from tests.training.test_distributed import TINY, own_home
    from training.train import main

    home = own_home(tiny_home, tmp_path)
    base = ["--home", str(home), "--manifest", tiny_home.train_manifest, "--null-caption", tiny_home.null_caption,
            "--model-overrides", json.dumps(TINY), "--no-progress", "--no-tensorboard", "--batch-size", "4"]
    assert main([*base, "--out-dir", str(tmp_path / "nope"), "--resume"]) == 2
    assert "--resume: no resumable checkpoint under" in capsys.readouterr().err
    assert main([*base, "--out-dir", str(tmp_path / "run"), "--steps", "1"]) == 0
    capsys.readouterr()
    assert main([*base, "--out-dir", str(tmp_path / "run"), "--steps", "2"]) == 2
    assert "already holds checkpoint-0000001 of an earlier run" in capsys.readouterr().err
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, runs = cat.sql("SELECT status FROM runs WHERE flow_name = 'train'")
    assert runs == [("completed",)]


DIVERGED = ("4 steps in a row (to step 9) had a non-finite gradient norm: the run has diverged or its data is broken. "
            "Last checkpoint: /runs/x/checkpoint-0000005. Lower --lr or --grad-clip, or check the samples named in the "
            "warnings above")


def test_a_diverged_run_is_one_line_and_exit_2_but_another_floating_point_error_stays_a_traceback(monkeypatch, capsys):
    """The documented divergence stop ended in an 18-line FloatingPointError traceback, exit 1 (the
    walkthrough of 2026-12-05): a class of its own is a user error; any other FloatingPointError is a bug."""
    import pytest

    import flows.cli
    import flows.steps
    from training.divergence import TrainingDiverged
    from training.train import main

    def diverged(home, cfg, *a, **k):
        raise TrainingDiverged(DIVERGED)

    def bug(home, cfg, *a, **k):
        raise FloatingPointError("float division by zero")

    monkeypatch.setenv("RANK", "0")
    monkeypatch.setattr(flows.steps, "train_step", diverged)
    assert main(["--manifest", "m"]) == 2
    assert capsys.readouterr().err.splitlines() == [f"python -m training.train: error: {DIVERGED}"]
    assert flows.cli.main(["train", "--manifest", "m"]) == 2
    assert capsys.readouterr().err.splitlines() == [f"lumina train: error: {DIVERGED}"]
    monkeypatch.setattr(flows.steps, "train_step", bug)
    for run in (lambda: main(["--manifest", "m"]), lambda: flows.cli.main(["train", "--manifest", "m"])):
        with pytest.raises(FloatingPointError, match="float division by zero"):
            run()


def test_the_trainers_divergence_stop_reaches_lumina_train_as_one_line(tiny_home, tmp_path, monkeypatch, capsys):
    from flows.cli import main
    from tests.training.test_distributed import TINY, own_home
    from tests.training.test_stopping import non_finite_from_step

    non_finite_from_step(monkeypatch, 2)
    home = own_home(tiny_home, tmp_path)
    rc = main(["train", "--home", str(home), "--manifest", tiny_home.train_manifest, "--null-caption", tiny_home.null_caption,
               "--model-overrides", __import__("json").dumps(TINY), "--no-progress", "--no-tensorboard", "--batch-size", "4",
               "--steps", "8", "--max-nonfinite-steps", "1", "--out-dir", str(tmp_path / "run")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("lumina train")]
    assert rc == 2 and err == [err[0]] and "2 steps in a row (to step 3) had a non-finite gradient norm" in err[0], err


def test_the_nan_warning_blames_the_weights_when_they_are_not_finite():
    """A resume from a checkpoint damaged in place (NaN weights or AdamW moments) warned "samples with a
    non-finite loss: <every key of the batch>", sending the user to their data."""
    import torch

    from training.trainer import _suspects

    model = torch.nn.Linear(2, 2)
    losses = torch.tensor([float("nan"), 1.0])
    assert _suspects(["a", "b"], losses, model) == "samples with a non-finite loss: a"
    with torch.no_grad():
        model.bias[1] = float("nan")
    said = _suspects(["a", "b"], torch.tensor([float("nan")] * 2), model)
    assert said.startswith("the model's weights hold NaN or inf (bias)") and "a, b" not in said, said


def test_python_m_training_train_ends_at_once_after_a_lost_cluster_line(tmp_path, monkeypatch, capsys):
    """As `lumina train`: after the one line for a Ray cluster that died mid-training, the module's
    process ends there (os._exit 2) instead of running Ray's atexit shutdown against the dead cluster
    (15-20 s, at times exit 1 after the line). Called as a library (as_command False) it returns 2."""
    import os

    import pytest

    import flows.steps
    from contracts.ray_runtime import RayClusterLost
    from training.train import main

    def lost(home, cfg):
        raise RayClusterLost("the Ray cluster at 127.0.0.1:1 stopped answering mid-training (unreachable for 10 s)")

    class Exited(Exception):
        pass

    def fake_exit(code):
        raise Exited(code)

    monkeypatch.setattr(flows.steps, "train_step", lost)
    monkeypatch.setattr(os, "_exit", fake_exit)
    argv = ["--manifest", "m", "--home", str(tmp_path)]
    assert main(argv) == 2
    with pytest.raises(Exited) as ended:
        main(argv, as_command=True)
    assert ended.value.args == (2,)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["python -m training.train: error: the Ray cluster at 127.0.0.1:1 stopped answering mid-training "
                   "(unreachable for 10 s)"] * 2


@pytest.mark.parametrize("torchrun", [False, True])
def test_only_torchrun_ranks_wait_for_rank_0_and_are_named(monkeypatch, capsys, torchrun):
    """A $RANK set without torchrun (a batch system's, a shell's) made the error wait 10 s and say
    "rank 1"; only under torchrun does another rank wait for rank 0's line."""
    import time

    import training.train as t

    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.delenv("TORCHELASTIC_ERROR_FILE", raising=False)
    if torchrun:
        monkeypatch.setenv("TORCHELASTIC_RUN_ID", "test")
    else:
        monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    t.say_error("python -m training.train: error: no catalog")
    err = capsys.readouterr().err.splitlines()
    if torchrun:
        assert slept == [t.OTHER_RANKS_WAIT_S] and err == ["python -m training.train: error: rank 1: no catalog"]
    else:
        assert slept == [] and err == ["python -m training.train: error: no catalog"]
