"""Checkpoint ids from the catalog: a pruned one says so and names what of its folder is still on
disk, a resumed run's checkpoints (another catalog run, the same folder) included."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog import Catalog
from flows.steps import resolve_checkpoint


def _catalog_with_checkpoints(tmp_path):
    path = tmp_path / "catalog.duckdb"
    folders = {step: tmp_path / "run" / f"checkpoint-{step:07d}" for step in (10, 20, 30)}
    with Catalog.open(path) as cat:
        run = cat.start_run("train", {})
        ids = {step: cat.register_checkpoint(run, str(folder), {}, step=step) for step, folder in folders.items() if step < 30}
        cat.finish_run(run)
        resumed = cat.start_run("train", {})  # --resume: a catalog run of its own, the same folder
        ids[30] = cat.register_checkpoint(resumed, str(folders[30]), {}, step=30)
        cat.finish_run(resumed)
        other = cat.start_run("train", {})  # another run's folder is not listed
        ids[99] = cat.register_checkpoint(other, str(tmp_path / "other" / "checkpoint-0000099"), {}, step=99)
        cat.finish_run(other)
    (tmp_path / "other" / "checkpoint-0000099").mkdir(parents=True)
    for step in (20, 30):  # step 10 was pruned (keep_last 2)
        folders[step].mkdir(parents=True)
    return path, ids, folders


def test_an_id_on_disk_resolves_to_its_folder(tmp_path):
    path, ids, folders = _catalog_with_checkpoints(tmp_path)
    assert resolve_checkpoint(path, ids[30]) == str(folders[30])


def test_a_pruned_id_names_the_checkpoints_of_its_folder_still_on_disk(tmp_path):
    path, ids, _ = _catalog_with_checkpoints(tmp_path)
    with pytest.raises(FileNotFoundError) as e:
        resolve_checkpoint(path, ids[10])
    msg = str(e.value)
    listed = msg.split("still on disk")[1]
    assert "no longer on disk" in msg and listed == f": {ids[30]} (step 30), {ids[20]} (step 20)", msg


def test_an_unknown_id_is_refused(tmp_path):
    path, _, _ = _catalog_with_checkpoints(tmp_path)
    with pytest.raises(FileNotFoundError, match="no checkpoint folder or catalog checkpoint id"):
        resolve_checkpoint(path, "ckpt-unknown")


def test_a_checkpoint_id_resolves_in_a_moved_workspace(tiny_home, tmp_path):
    """The catalog records absolute folders; a workspace moved or copied elsewhere made every
    checkpoint id say "no longer on disk"."""
    import shutil

    from flows.steps import resolve_checkpoint, train_step
    from training.trainer import TrainConfig

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(tiny_home.catalog, home / "catalog.duckdb")
    out = train_step(str(home), TrainConfig(manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                                            model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4},
                                            steps=1, batch_size=4, progress=False, tensorboard=False))
    moved = tmp_path / "moved"
    shutil.move(str(home), moved)
    found = resolve_checkpoint(moved / "catalog.duckdb", out["checkpoint_id"])
    assert found == str(moved / Path(out["checkpoint"]).relative_to(home)) and Path(found).is_dir()


def test_speech_sampling_reads_durations_from_the_catalog_given_and_says_when_it_cannot(tmp_path, monkeypatch, caplog):
    from types import SimpleNamespace

    from evaluation.speech import durations
    from evaluation.speech.sample import prepare

    asked = []
    monkeypatch.setattr(durations, "from_checkpoint", lambda ckpt, catalog=None: asked.append(catalog))
    with caplog.at_level("WARNING", logger="evaluation.speech.sample"):
        shape, _ = prepare(SimpleNamespace(size=None, frames=None, prompt="seven", catalog="/moved/catalog.duckdb"),
                           tmp_path, [80, 1, 1, 10])
    assert asked == ["/moved/catalog.duckdb"] and "could not be read" in caplog.text
    assert shape[-1] == durations.DurationModel(*durations.DEFAULT).frames(durations.count_phones("seven"))


def test_a_run_folder_given_as_a_checkpoint_names_its_checkpoints(tmp_path):
    """--init-from, evaluate and sample given runs/<id> failed on a missing config.json or
    training.json (sample even called it "a converted release?")."""
    from flows.steps import resolve_checkpoint

    run = tmp_path / "runs" / "r1"
    for step in (8, 12):
        (run / f"checkpoint-{step:07d}").mkdir(parents=True)
        (run / f"checkpoint-{step:07d}" / "config.json").write_text("{}")
    (run / "metrics.csv").write_text("step\n")
    with pytest.raises(FileNotFoundError) as e:
        resolve_checkpoint(tmp_path / "catalog.duckdb", str(run))
    assert str(e.value) == (f"{run} is a run folder, not a checkpoint: give one of its checkpoints, checkpoint-0000008, "
                            f"checkpoint-0000012 (the newest: {run / 'checkpoint-0000012'})")
    with pytest.raises(FileNotFoundError, match="is not a checkpoint folder: it has no config.json"):
        resolve_checkpoint(tmp_path / "catalog.duckdb", str(tmp_path))
    assert resolve_checkpoint(tmp_path / "catalog.duckdb", str(run / "checkpoint-0000008")) == str(run / "checkpoint-0000008")


def test_lumina_sample_on_a_run_folder_or_with_num_0_says_so_in_one_line(tmp_path):
    import subprocess
    import sys

    run = tmp_path / "runs" / "r1" / "checkpoint-0000004"
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    repo = Path(__file__).resolve().parents[2]
    for args, said in ((["--checkpoint", str(run.parent)], "is a run folder, not a checkpoint"),
                       (["--checkpoint", str(run), "--num", "0"], "--num must be at least 1; got 0"),
                       (["--checkpoint", str(run), "--steps", "0"], "--steps must be at least 1; got 0")):
        proc = subprocess.run([sys.executable, "-m", "flows.cli", "sample", "--home", str(tmp_path), "--prompt", "a 3", *args],
                              capture_output=True, text=True, timeout=120, cwd=repo)
        assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and said in proc.stderr, proc.stderr


@pytest.mark.parametrize("name", ["samples_per_class", "grid_size", "steps", "batch_size", "max_heldout"])
def test_evaluation_numbers_below_one_are_refused(name):
    from evaluation.evaluate import EvalConfig

    with pytest.raises(ValueError, match=f"--{name.replace('_', '-')} must be at least 1"):
        EvalConfig(**{name: 0})


def test_a_bare_resume_on_a_manifest_never_trained_says_to_start_one(tiny_home, tmp_path):
    """It said "pass --out-dir", which does not help when there is nothing to continue."""
    import shutil

    from flows.steps import train_step
    from training.trainer import TrainConfig

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(tiny_home.catalog, home / "catalog.duckdb")
    cfg = dict(manifest=tiny_home.holdout_manifest, null_caption=tiny_home.null_caption, progress=False, tensorboard=False,
               model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4}, steps=1, batch_size=4)
    with pytest.raises(FileNotFoundError, match="has no checkpoint in the catalog, so there is no run to continue: "
                                                "leave --resume out to start one"):
        train_step(str(home), TrainConfig(resume=True, **cfg))
    first = train_step(str(home), TrainConfig(**cfg))
    shutil.rmtree(Path(first["checkpoint"]).parent)
    with pytest.raises(FileNotFoundError, match="none of the 1 registered checkpoints of manifest .* is on disk"):
        train_step(str(home), TrainConfig(resume=True, **cfg))


def test_a_copied_workspace_resumes_and_resolves_its_own_copy_of_a_run(tiny_home, tmp_path):
    """--resume in a copy wrote its checkpoints into the original workspace and pruned one there
    (the catalog records absolute folders); an id resolved to the original's folder too."""
    import shutil

    from flows.steps import resolve_checkpoint, train_step
    from training.trainer import TrainConfig

    original, copy = tmp_path / "home", tmp_path / "copy"
    original.mkdir()
    shutil.copy(tiny_home.catalog, original / "catalog.duckdb")
    cfg = dict(manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption, progress=False, tensorboard=False,
               model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4}, batch_size=4, checkpoint_every=1,
               keep_last=2)
    first = train_step(str(original), TrainConfig(steps=2, **cfg))
    shutil.copytree(original, copy)
    before = sorted(p.name for p in Path(first["checkpoint"]).parent.iterdir())
    resumed = train_step(str(copy), TrainConfig(steps=3, resume=True, **cfg))
    assert Path(resumed["checkpoint"]).is_relative_to(copy), resumed["checkpoint"]
    assert sorted(p.name for p in Path(first["checkpoint"]).parent.iterdir()) == before  # the original untouched
    assert resolve_checkpoint(copy / "catalog.duckdb", first["checkpoint_id"]).startswith(str(copy))
    assert resolve_checkpoint(original / "catalog.duckdb", first["checkpoint_id"]) == first["checkpoint"]


def test_a_bare_resume_continues_the_interrupted_run_not_a_newer_finished_one(tiny_home, tmp_path, caplog):
    """Ctrl-C on a long run, then a short run that finished: --resume continued the short one
    ("nothing to train") instead of the run the user meant."""
    import shutil

    from flows.steps import train_step
    from training.stopping import TrainingStopped, write_stop_file
    from training.trainer import TrainConfig

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(tiny_home.catalog, home / "catalog.duckdb")
    cfg = dict(manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption, progress=False, tensorboard=False,
               model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4}, batch_size=4)
    long_run = home / "runs" / "long"
    write_stop_file(long_run)  # stops after its first step, as a Ctrl-C would, with a checkpoint
    with pytest.raises(TrainingStopped):
        train_step(str(home), TrainConfig(steps=50, out_dir=str(long_run), **cfg))
    short = train_step(str(home), TrainConfig(steps=1, **cfg))  # newer, and finished
    with caplog.at_level("INFO", logger="flows.steps"):
        resumed = train_step(str(home), TrainConfig(steps=2, resume=True, **{**cfg, "given": ("manifest", "resume", "steps")}))
    assert Path(resumed["checkpoint"]).parent == long_run and resumed["steps"] == 2
    assert f"the newest run, {Path(short['checkpoint']).parent}, finished its steps" in caplog.text


@pytest.mark.parametrize("args, said", [
    (["--text", ""], "lumina sample: error: --prompt (or --text) is required and may not be empty"),
    (["--prompt", "  "], "lumina sample: error: --prompt (or --text) is required and may not be empty: got '  '"),
    ([], "lumina sample: error: --prompt (or --text) is required and may not be empty"),
    (["--text", "seven", "--checkpoint", ""], "lumina sample: error: --checkpoint is required (a checkpoint folder or its catalog id)"),
])
def test_lumina_sample_says_which_argument_is_missing(tmp_path, capsys, args, said):
    from flows.cli import main

    argv = ["sample", "--home", str(tmp_path), *args]
    if "--checkpoint" not in args:
        argv += ["--checkpoint", str(tmp_path)]
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and capsys.readouterr().err.strip().splitlines()[-1] == said + " (--help for usage)"
