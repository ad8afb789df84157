"""What --resume and --init-from do with a checkpoint folder that is damaged or lacks its resume
state, and the catalog's log windows across a stop and a resume (the walkthrough of 2026-12-05)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.training.test_distributed import own_home
from tests.training.test_trainer import TINY, tiny_cfg
from training.state import DamagedCheckpoint, checkpoint_problems, latest_resumable
from training.stopping import write_stop_file
from training.trainer import train

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def two_checkpoints(tiny_home, tmp_path_factory) -> Path:
    """A run folder with checkpoint-0000002 and checkpoint-0000004, each resumable."""
    out = tmp_path_factory.mktemp("two") / "run"
    train(tiny_cfg(tiny_home, out, steps=4, checkpoint_every=2, keep_last=0, shuffle_buffer=16))
    return out


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _cut(path: Path) -> None:
    with open(path, "r+b") as f:
        f.truncate(min(100, path.stat().st_size // 2))


@pytest.mark.parametrize("name", ["train_state.safetensors", "model.safetensors", "train_state.json"])
def test_resume_from_a_truncated_checkpoint_names_the_file_and_the_intact_one_to_use(tiny_home, two_checkpoints,
                                                                                      tmp_path, name):
    """A cut file ended in safetensors' traceback (naming no file) or a bare JSON error; going back to
    the previous checkpoint on its own would retrain over the newer one: say which and how instead."""
    run = _copy(two_checkpoints, tmp_path / "run")
    damaged = run / "checkpoint-0000004" / name
    _cut(damaged)
    assert any(p.startswith(str(damaged)) for p in checkpoint_problems(run / "checkpoint-0000004"))
    with pytest.raises(DamagedCheckpoint) as e:  # a ValueError: one line from lumina train
        train(tiny_cfg(tiny_home, run, steps=6, shuffle_buffer=16, resume=True))
    msg = str(e.value)
    assert isinstance(e.value, ValueError) and "\n" not in msg
    assert str(damaged) in msg and "checkpoint-0000002 (the newest intact one" in msg, msg
    aside = run / "damaged-checkpoint-0000004"
    assert f"mv {run / 'checkpoint-0000004'} {aside}" in msg
    assert ("--init-from" in msg) == (name != "model.safetensors")  # its weights are still good for a new stage
    assert not (run / "checkpoint-0000006").exists()  # nothing trained
    os.rename(run / "checkpoint-0000004", aside)  # the advice works
    resumed = train(tiny_cfg(tiny_home, run, steps=6, shuffle_buffer=16, resume=True))
    assert resumed.resumed_from_step == 2 and resumed.steps == 6


def test_init_from_a_truncated_checkpoint_names_the_file(tiny_home, two_checkpoints, tmp_path):
    src = _copy(two_checkpoints / "checkpoint-0000004", tmp_path / "ckpt")
    _cut(src / "model.safetensors")
    with pytest.raises(DamagedCheckpoint, match=f"--init-from {src}: damaged checkpoint, {src / 'model.safetensors'}: cut short"):
        train(tiny_cfg(tiny_home, tmp_path / "b", steps=2, model_overrides={}, init_from=str(src)))
    _copy(two_checkpoints / "checkpoint-0000004", tmp_path / "ckpt2")
    (tmp_path / "ckpt2" / "config.json").write_text('{"dim": 32,')
    with pytest.raises(DamagedCheckpoint, match="ckpt2/config.json: not valid JSON"):
        train(tiny_cfg(tiny_home, tmp_path / "c", steps=2, model_overrides={}, init_from=str(tmp_path / "ckpt2")))


def test_resume_refuses_to_skip_a_newer_checkpoint_without_its_resume_state(tiny_home, two_checkpoints, tmp_path):
    """It went back to checkpoint-0000002 without a word, trained steps 3-4 again (with that
    checkpoint's settings) and overwrote checkpoint-0000004: now it stops before training and says
    which folder and what to do."""
    run = _copy(two_checkpoints, tmp_path / "run")
    (run / "checkpoint-0000004" / "train_state.json").unlink()
    before = (run / "checkpoint-0000004" / "model.safetensors").read_bytes()
    with pytest.raises(DamagedCheckpoint) as e:
        train(tiny_cfg(tiny_home, run, steps=6, shuffle_buffer=16, resume=True))
    msg = str(e.value)
    assert f"the newest checkpoint, {run / 'checkpoint-0000004'}, has no train_state.json" in msg
    assert "continue from checkpoint-0000002" in msg and "mv " in msg and f"--init-from {run / 'checkpoint-0000004'}" in msg
    assert (run / "checkpoint-0000004" / "model.safetensors").read_bytes() == before  # not retrained over
    assert not (run / "checkpoint-0000006").exists()


def test_no_intact_checkpoint_at_all_says_to_start_anew(two_checkpoints, tmp_path):
    run = _copy(two_checkpoints, tmp_path / "run")
    for step in (2, 4):
        _cut(run / f"checkpoint-{step:07d}" / "model.safetensors")
    with pytest.raises(DamagedCheckpoint, match="no earlier checkpoint of this run is intact: start anew"):
        latest_resumable(run)


# a pinned manifest version took another path, past the run's registration. The unpinned one runs as a
# `python -m flows.cli` process (its exit status and whole stderr); the pinned one calls the same main()
# in this process (its return code and the stderr it prints, captured at the file descriptor): a process
# start is ~1.5 s of CPU, and what the pin changes is the path inside main()
@pytest.mark.parametrize("pin, own_process", [("", True), ("@v1", False)])
def test_lumina_train_resume_from_a_truncated_checkpoint_is_one_line(tiny_home, two_checkpoints, tmp_path, capfd, pin,
                                                                     own_process):
    run = _copy(two_checkpoints, tmp_path / "run")
    _cut(run / "checkpoint-0000004" / "train_state.safetensors")
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(tiny_home.catalog, home / "catalog.duckdb")
    args = ["train", "--home", str(home), "--manifest", tiny_home.train_manifest + pin, "--null-caption",
            tiny_home.null_caption, "--resume", "--out-dir", str(run), "--steps", "6"]
    if own_process:
        proc = subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, timeout=300,
                              cwd=REPO)
        returncode, stderr = proc.returncode, proc.stderr
    else:
        from flows.cli import main

        capfd.readouterr()
        returncode = main(args)
        stderr = capfd.readouterr().err
    assert returncode == 2 and stderr.strip().count("\n") == 0, stderr[-3000:]
    assert "train_state.safetensors: cut short" in stderr and "checkpoint-0000002" in stderr
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:  # refused before a run was registered
        _, runs = cat.sql("SELECT count(*) FROM runs WHERE flow_name = 'train'")
    assert runs == [(0,)]


def test_a_sharded_checkpoint_passes_the_check_and_resumes(tiny_home, tmp_path):
    """The header check reads DCP's shard files as safetensors too: an intact FSDP2 checkpoint is no 'damage'."""
    first = train(tiny_cfg(tiny_home, tmp_path, steps=2, log_every=1, parallel="fsdp"))
    assert (Path(first.checkpoint) / "train_state").is_dir() and checkpoint_problems(first.checkpoint) == []
    shard = sorted((Path(first.checkpoint) / "train_state").glob("*.safetensors"))[0]
    _cut(shard)
    assert [p.split(": ")[0] for p in checkpoint_problems(first.checkpoint)] == [str(shard)]


def test_catalog_windows_after_a_stop_and_resume_are_a_straight_runs(tiny_home, tmp_path):
    """Stopped inside a log window, the run registered that part as a window of its own, and the
    resume another short one for the rest: the catalog curve differed from a run never stopped.
    And the open window was kept only in the checkpoint: a run stopped and never resumed had no
    catalog row for its last steps. Now it has one at the stop, which a resume replaces with the
    whole window's, so a stopped and resumed run's catalog curve is still a straight run's.
    (Both were tests of their own, each training the same three runs.)"""
    catalog = tmp_path / "catalog.duckdb"
    shutil.copy(tiny_home.catalog, catalog)

    def run(out, stop_first=False, **kw):
        rows = []  # what the trainer hands its hook (CatalogRegistrar logs them as metrics)
        if stop_first:
            write_stop_file(out)  # honoured after the first step
        result = _registered_run(tiny_home, catalog, out, seen=rows, **kw)
        return result, [(r["step"], {k: v for k, v in r.items() if k != "tokens_per_s"}) for r in rows]

    straight, straight_rows = run(tmp_path / "a")
    stopped, stopped_rows = run(tmp_path / "b", stop_first=True)
    assert stopped.steps == 1 and [(s, r["window_start"]) for s, r in stopped_rows] == [(1, 1)]  # the open window so far
    assert stopped.final_loss == stopped.losses[-1][1] and stopped.losses[-1][0] == 1  # still reported
    # the stopped run's partial window is in the catalog
    curve = _catalog_curve(catalog, tmp_path / "b")
    assert {(step, name) for step, name, _ in curve} >= {(1, "train_fm_loss"), (1, "grad_norm"), (1, "lr")}, curve
    assert dict(((s, n), v) for s, n, v in curve)[(1, "train_fm_loss")] == pytest.approx(stopped.final_loss)
    resumed, resumed_rows = run(tmp_path / "b", resume=True)
    assert [s for s, _ in straight_rows] == [3, 6]
    assert resumed_rows == straight_rows  # step and every value (tokens/s is timing)
    assert resumed.losses == straight.losses  # and the loss log of the checkpoint
    assert resumed.resumed_from_step == 1 and straight.resumed_from_step is None
    for run_dir in ("a", "b"):  # the resume state is the same too
        assert json.loads((tmp_path / run_dir / "checkpoint-0000006" / "train_state.json").read_text())["losses"] == \
            [list(x) for x in straight.losses]
    resumed_curve, expected = _catalog_curve(catalog, tmp_path / "b"), _catalog_curve(catalog, tmp_path / "a")
    assert [s for s, n, _ in expected if n == "train_fm_loss"] == [3, 6] and straight.steps == 6
    assert resumed_curve == expected  # the partial row at step 1 is gone, replaced by the window's at 3


def test_model_overrides_are_checked_when_the_config_is_made():
    from training.trainer import TrainConfig

    with pytest.raises(ValueError, match=r"unknown FlagDiTConfig field 'dims' \(did you mean 'dim'\?\); the fields: in_channels"):
        TrainConfig(model_overrides={"dims": 32})
    with pytest.raises(ValueError, match="n_layers must be a positive whole number, got 0"):
        TrainConfig(model_overrides={**TINY, "n_layers": 0})
    with pytest.raises(ValueError, match="dim 31 is not divisible by n_heads 2"):
        TrainConfig(model_overrides={**TINY, "dim": 31})
    with pytest.raises(ValueError) as e:
        TrainConfig(model="flag-dit-xx")
    assert str(e.value).startswith("unknown model 'flag-dit-xx'")  # not a KeyError's quoted repr
    TrainConfig(model_overrides=TINY)


def test_workers_without_the_ray_launcher_are_refused():
    from training.ray_launcher import _worker_config
    from training.trainer import TrainConfig

    with pytest.raises(ValueError, match="workers 4 needs --launcher ray"):
        TrainConfig(workers=4, given=("workers",))
    ray = TrainConfig(workers=4, launcher="ray", given=("launcher", "workers"))
    assert _worker_config(ray).launcher == "local"  # each Ray worker trains locally: no refusal there
    TrainConfig(workers=4)  # a library call records nothing given


@pytest.mark.parametrize("argv, said", [
    (["--model-overrides", "{dim: 32}"], "--model-overrides: must be a JSON object with double-quoted keys"),
    (["--model-overrides", '{"dims": 32}'], "unknown FlagDiTConfig field 'dims' (did you mean 'dim'?)"),
    (["--model-overrides", '{"n_layers": 0}'], "n_layers must be a positive whole number, got 0"),
    (["--model", "flag-dit-xx"], "error: unknown model 'flag-dit-xx'"),
    (["--workers", "4"], "workers 4 needs --launcher ray")])
def test_python_m_training_train_refuses_bad_model_options_in_one_line(argv, said, capsys):
    from training.train import main

    with pytest.raises(SystemExit) as e:
        main(["--manifest", "m", *argv])
    err = capsys.readouterr().err
    assert e.value.code == 2 and said in err and "Traceback" not in err, err


def test_the_stop_message_comes_from_rank_0_only(monkeypatch, capsys):
    """torchrun printed `stopped by SIGTERM at step N ...` once per rank."""
    import signal

    import flows.steps
    from training.stopping import TrainingStopped
    from training.train import main

    def stopped(home, cfg):
        raise TrainingStopped(signal.SIGTERM, 7, "/runs/x/checkpoint-0000007")

    monkeypatch.setattr(flows.steps, "train_step", stopped)
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "test")  # torchrun's ranks (they exit 0: stopped_exit_code)
    for rank, printed in (("1", False), ("0", True)):
        monkeypatch.setenv("RANK", rank)
        assert main(["--manifest", "m"]) == 0
        assert ("stopped by SIGTERM at step 7" in capsys.readouterr().err) == printed
    monkeypatch.delenv("TORCHELASTIC_RUN_ID")  # a $RANK without torchrun (a batch system's) is no rank of ours
    monkeypatch.setenv("RANK", "1")
    assert main(["--manifest", "m"]) == 128 + signal.SIGTERM
    assert "stopped by SIGTERM at step 7" in capsys.readouterr().err


def test_under_torchrun_a_requested_stop_exits_0_and_a_failure_still_fails(monkeypatch, capsys):
    """torchrun's agent took a stopped rank's 143 for a failure: it killed the ranks still finishing,
    printed a ChildFailedError report and exited 1 (and --max-restarts would start the run again)."""
    import signal

    import flows.steps
    from training.stopping import TrainingStopped
    from training.train import main

    def stopped(home, cfg):
        raise TrainingStopped(signal.SIGINT, 7, "/runs/x/checkpoint-0000007")

    def failed(home, cfg):
        raise RuntimeError("a real failure")

    monkeypatch.setenv("RANK", "0")
    monkeypatch.setattr(flows.steps, "train_step", stopped)
    assert main(["--manifest", "m"]) == 128 + signal.SIGINT  # not under torchrun: the signal's code
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "test")  # what torchrun's agent sets for its workers
    assert main(["--manifest", "m"]) == 0
    assert "stopped by SIGINT at step 7" in capsys.readouterr().err  # still said where to --resume from
    monkeypatch.setattr(flows.steps, "train_step", failed)
    with pytest.raises(RuntimeError, match="a real failure"):  # a traceback and exit 1, as before
        main(["--manifest", "m"])


def test_nothing_to_train_tells_a_no_op_resume_before_a_run_is_registered(tiny_home, two_checkpoints):
    """A --resume already at its steps was recorded as a completed run (checkpoints [], 0 tokens/s):
    the entry point asks this first."""
    from training.resume_config import nothing_to_train
    from training.trainer import TrainConfig

    run = two_checkpoints  # checkpoint-0000004 of a 4-step run
    bare = TrainConfig(resume=True, out_dir=str(run), given=("resume", "out_dir"))
    assert nothing_to_train(bare) == {"checkpoint": str(run / "checkpoint-0000004"), "steps": 4, "nothing_to_train":
                                      "--resume: checkpoint-0000004 is at step 4, already --steps 4: nothing to train "
                                      "(raise --steps to go on)"}
    lower = TrainConfig(resume=True, out_dir=str(run), steps=3, given=("resume", "out_dir", "steps"))
    assert "past --steps 3" in nothing_to_train(lower)["nothing_to_train"]
    assert nothing_to_train(TrainConfig(resume=True, out_dir=str(run), steps=6, given=("steps",))) is None
    assert nothing_to_train(TrainConfig(out_dir=str(run))) is None  # not a resume


def _train_runs(home: Path) -> int:
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        return cat.sql("SELECT count(*) FROM runs WHERE flow_name = 'train'")[1][0][0]


def test_lumina_train_resume_with_nothing_left_says_so_and_records_no_run(tiny_home, two_checkpoints, tmp_path, capsys):
    from flows.cli import main

    run = _copy(two_checkpoints, tmp_path / "run")
    home = own_home(tiny_home, tmp_path)
    rc = main(["train", "--home", str(home), "--manifest", tiny_home.train_manifest, "--null-caption",
               tiny_home.null_caption, "--resume", "--out-dir", str(run), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["run_id"] is None and out["steps"] == 4
    assert out["nothing_to_train"].startswith("--resume: checkpoint-0000004 is at step 4, already --steps 4")
    assert _train_runs(home) == 0 and not (run / "checkpoint-0000006").exists()


@pytest.mark.parametrize("other", ["manifest", "model"])
def test_resume_of_a_finished_run_with_another_manifest_or_model_is_refused_not_nothing_to_train(
        tiny_home, two_checkpoints, tmp_path, capsys, other):
    """`lumina train --manifest odd --out-dir <a finished run of another manifest> --resume` said "nothing to
    train", exit 0, with the other manifest's checkpoint id (the walkthrough of 2026-12-05): the refusal the
    README promises comes first."""
    from flows.cli import main

    run = _copy(two_checkpoints, tmp_path / "run")
    home = own_home(tiny_home, tmp_path)
    manifest = tiny_home.holdout_manifest if other == "manifest" else tiny_home.train_manifest
    model = ["--model-overrides", json.dumps({**TINY, "dim": 64})] if other == "model" else []
    rc = main(["train", "--home", str(home), "--manifest", manifest, "--null-caption", tiny_home.null_caption,
               "--resume", "--out-dir", str(run), *model])
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert rc == 2 and captured.out == "" and len(err) == 1, captured
    said = (f"was trained on manifest {tiny_home.train_manifest!r}, not {tiny_home.holdout_manifest!r}"
            if other == "manifest" else '--model-overrides {"dim": 64')
    assert err[0].startswith(f"lumina train: error: --resume: {run / 'checkpoint-0000004'}") and said in err[0], err
    assert "nothing to train" not in captured.err and _train_runs(home) == 0


# one of the two in a process of its own (nothing else printed by a fresh `lumina`), the other in this
# process, its stderr captured at the file descriptor with the warnings and log lines pytest holds back
# there (_main_with_what_a_terminal_shows): a process start with its imports is ~3 s of CPU,
# and the refusal's path inside main() is the command's own either way
@pytest.mark.parametrize("command, own_process", [("evaluate", True), ("sample", False)])
def test_evaluate_and_sample_on_a_truncated_checkpoint_say_so_in_one_line(tiny_home, two_checkpoints, tmp_path, command,
                                                                         own_process, capfd, caplog):
    run = _copy(two_checkpoints, tmp_path / "run")
    ckpt = run / "checkpoint-0000004"
    _cut(ckpt / "model.safetensors")
    home = own_home(tiny_home, tmp_path)
    extra = (["--manifest", tiny_home.holdout_manifest] if command == "evaluate"
             else ["--prompt", "a digit 3", "--out", str(tmp_path / "x.png")])
    args = [command, "--home", str(home), "--checkpoint", str(ckpt), *extra]
    if own_process:
        proc = subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, timeout=300,
                              cwd=REPO)
        returncode, stderr = proc.returncode, proc.stderr
    else:
        returncode, stderr = _main_with_what_a_terminal_shows(args, capfd, caplog)
    assert returncode == 2 and stderr.strip().count("\n") == 0, stderr[-3000:]
    assert f"{ckpt / 'model.safetensors'}: cut short" in stderr, stderr
    assert not (tmp_path / "x.png").exists()


# warnings Python shows no one by default (a fresh `lumina` prints none of them)
HIDDEN_BY_DEFAULT = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def _main_with_what_a_terminal_shows(args: list[str], capfd, caplog) -> tuple[int, str]:
    """lumina's main in this process: its exit status, and its stderr with what pytest holds back here but
    a fresh `lumina` prints there, warnings and log records at WARNING and above (in this process they
    went to pytest's capture, so a second line of either passed the one-line check)."""
    import logging
    import warnings

    from flows.cli import main

    capfd.readouterr()
    caplog.clear()
    with warnings.catch_warnings(record=True) as warned, caplog.at_level(logging.WARNING):
        returncode = main(args)
    held_back = [f"{w.category.__name__}: {w.message}" for w in warned if not issubclass(w.category, HIDDEN_BY_DEFAULT)]
    held_back += [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    return returncode, capfd.readouterr().err + "".join(f"{line}\n" for line in held_back)


def test_lumina_train_says_model_overrides_must_be_json(capsys):
    from flows.cli import main

    with pytest.raises(SystemExit) as e:
        main(["train", "--manifest", "m", "--model-overrides", "{dim: 32}"])
    assert e.value.code == 2
    assert "argument --model-overrides: must be a JSON object with double-quoted keys" in capsys.readouterr().err


def test_a_bare_resume_refuses_to_pass_over_a_run_without_resume_state_to_another_run(tiny_home, tmp_path):
    """The newest run's checkpoints had lost their train_state.json: a bare --resume went on to an
    older run of the manifest without a word. Now it says which run it passed over and what to do."""
    from catalog import Catalog
    from flows.steps import train_step

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(tiny_home.catalog, home / "catalog.duckdb")
    cfg = dict(manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption, progress=False, tensorboard=False,
               model_overrides=TINY, batch_size=4)
    older, newer = home / "runs" / "older", home / "runs" / "newer"
    for run in (older, newer):
        train_step(str(home), tiny_cfg(tiny_home, run, steps=1, **{**cfg, "catalog": None}))
    for state in newer.glob("checkpoint-*/train_state.json"):
        state.unlink()
    resume = tiny_cfg(tiny_home, None, steps=2, resume=True, **{**cfg, "catalog": None, "out_dir": None},
                      given=("manifest", "resume", "steps"))
    with pytest.raises(FileNotFoundError) as e:
        train_step(str(home), resume)
    msg = str(e.value)
    assert "\n" not in msg and f"to continue, {newer}, has no checkpoint with its resume state" in msg, msg
    assert f"--out-dir {older}" in msg and f"--init-from {newer / 'checkpoint-0000001'}" in msg, msg
    assert not (older / "checkpoint-0000002").exists()  # the older run was not continued
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:  # refused before a run was registered
        _, runs = cat.sql("SELECT count(*) FROM runs WHERE flow_name = 'train'")
    assert runs == [(2,)]
    shutil.rmtree(newer)  # a run folder deleted is no run to pass over: the older one goes on
    assert Path(train_step(str(home), resume)["checkpoint"]) == older / "checkpoint-0000002"


def _catalog_curve(catalog, run_dir: Path) -> list[tuple]:
    """A run folder's training metrics in the catalog (tokens/s is timing), as the README selects them."""
    from catalog import Catalog

    with Catalog.open(catalog, read_only=True) as cat:
        _, rows = cat.sql("SELECT m.step, m.name, m.value FROM metrics m JOIN checkpoints c USING (checkpoint_id) "
                          "WHERE m.split = 'train' AND m.name <> 'tokens_per_s' AND c.uri LIKE ? ORDER BY m.step, m.name",
                          [f"{run_dir}/%"])
    return rows


def _registered_run(tiny_home, catalog, out, seen: list | None = None, **kw):
    """train() with the hook lumina train uses, under a catalog run of its own; the window rows the
    trainer hands the hook are added to ``seen``."""
    from catalog import Catalog
    from training.catalog_hook import CatalogRegistrar

    with Catalog.open(catalog) as cat:
        run_id = cat.start_run("train", {})
    cfg = tiny_cfg(tiny_home, out, catalog=str(catalog), steps=6, log_every=3, shuffle_buffer=16, **kw)
    registrar = CatalogRegistrar(str(catalog), run_id, cfg.manifest, 1, cfg.model)

    def hook(path, step, rows):
        if seen is not None:
            seen.extend(rows)
        registrar(path, step, rows)

    return train(cfg, on_checkpoint=hook)


def test_a_run_stopped_right_after_a_periodic_checkpoint_logs_its_open_window_with_it(tiny_home, tmp_path):
    """No final checkpoint is written then (the periodic one is at the stop's step): the open
    window's row goes to that one."""
    catalog = tmp_path / "catalog.duckdb"
    shutil.copy(tiny_home.catalog, catalog)
    write_stop_file(tmp_path / "run")
    stopped = _registered_run(tiny_home, catalog, tmp_path / "run", checkpoint_every=1)
    assert stopped.steps == 1 and [Path(c).name for c in stopped.checkpoints] == ["checkpoint-0000001"]
    assert [(s, v) for s, n, v in _catalog_curve(catalog, tmp_path / "run") if n == "train_fm_loss"] == \
        [(1, pytest.approx(stopped.final_loss))]
