"""Stopping a run on SIGTERM/SIGINT with a checkpoint, and skipping steps with a non-finite gradient."""

import contextlib
import csv
import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.training.conftest import ray_cluster_group
from tests.training.test_distributed import ENV, RAY_TRAIN_TEST_ENV, TINY, losses, own_home, torchrun_env
from tests.training.test_trainer import tiny_cfg
from training.stopping import StopRequest
from training.trainer import TrainConfig, train


def test_the_first_signal_is_only_recorded_the_second_reaches_the_previous_handler():
    # a known previous handler that records (an earlier Ray Train test in this process may have left its own)
    seen = []
    recorder = lambda signum, frame: seen.append((signum, frame is not None))  # noqa: E731
    left = signal.signal(signal.SIGINT, recorder)
    try:
        with StopRequest(on_first=lambda signum: seen.append(("first", signum))) as stop:
            os.kill(os.getpid(), signal.SIGINT)
            assert stop.signum == signal.SIGINT and seen == [("first", signal.SIGINT)]  # training goes on to the step's end
        assert signal.getsignal(signal.SIGINT) is recorder  # restored on exit
        seen.clear()
        with StopRequest() as stop:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            assert seen == [(signal.SIGINT, True)] and stop.signum == signal.SIGINT
        assert signal.getsignal(signal.SIGINT) is recorder
    finally:
        signal.signal(signal.SIGINT, left)


def test_a_handler_python_does_not_know_comes_back_as_the_default(monkeypatch):
    """signal.signal returns None for a handler set outside Python; None cannot be set again."""
    import training.stopping as stopping

    calls, real = [], signal.signal

    def fake(signum, handler):
        calls.append((signum, handler))
        return None

    monkeypatch.setattr(stopping.signal, "signal", fake)
    with StopRequest(signals=(signal.SIGTERM,)):
        pass
    monkeypatch.setattr(stopping.signal, "signal", real)
    assert len(calls) == 2 and calls[1] == (signal.SIGTERM, signal.SIG_DFL)


def test_the_stop_file_is_written_into_a_run_folder_not_made_yet_and_removing_none_is_fine(tmp_path):
    """The Ray driver may be signalled before a worker has made the run folder; a signal-stopped run
    has no file to remove."""
    from training.stopping import remove_stop_file, stop_file_signal, write_stop_file

    run = tmp_path / "runs" / "r1"
    write_stop_file(run, signal.SIGINT)
    assert stop_file_signal(run) == signal.SIGINT
    remove_stop_file(run)
    remove_stop_file(run)
    assert stop_file_signal(run) == 0


@pytest.mark.parametrize("previous, code", [("signal.SIG_DFL", -signal.SIGTERM), ("signal.SIG_IGN", 0)])
def test_a_second_signal_gets_the_default_action_or_is_ignored_as_before(previous, code):
    """SIG_DFL: the second SIGTERM ends the process as if nothing were installed; SIG_IGN stays ignored."""
    script = (f"import os, signal; signal.signal(signal.SIGTERM, {previous}); from training.stopping import StopRequest\n"
              "with StopRequest() as stop:\n"
              "    os.kill(os.getpid(), signal.SIGTERM); print('first', stop.signum, flush=True)\n"
              "    os.kill(os.getpid(), signal.SIGTERM); print('second')\n"
              "print('after', signal.getsignal(signal.SIGTERM) == " + previous + ")")
    r = subprocess.run([sys.executable, "-c", script], env=ENV, capture_output=True, text=True, timeout=60)
    assert r.returncode == code, r.stderr
    expected = f"first {int(signal.SIGTERM)}\n" + ("" if code else "second\nafter True\n")
    assert r.stdout == expected


def test_off_the_main_thread_nothing_is_installed():
    import threading

    seen = {}

    def run():
        with StopRequest() as stop:
            seen["handler"] = signal.getsignal(signal.SIGTERM)
            seen["signum"] = stop.signum

    before = signal.getsignal(signal.SIGTERM)
    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert seen == {"handler": before, "signum": None}


def _rows(run: Path) -> int:
    try:
        return max(0, (run / "metrics.csv").read_text().count("\n") - 1)
    except FileNotFoundError:
        return 0


class SignalNotCaught(Exception):
    pass


@contextlib.contextmanager
def caught_by_the_run(sig: int):
    """While a test signals its own process: a ``sig`` that reaches the handler found before the run's
    (the run installed none, or passed its first signal on) fails the test instead of ending pytest or
    being ignored; as a process's default, it is never reached when the run catches the signal."""
    def not_caught(signum, frame):
        raise SignalNotCaught(f"{signal.Signals(signum).name} reached the handler that was there before the run's")

    previous = signal.signal(sig, not_caught)
    try:
        yield
    finally:
        signal.signal(sig, previous)


@contextlib.contextmanager
def logging_as_a_command_line():
    """Logging as in a `python -m training.train` process of its own: pytest's handlers on the root logger
    set aside, so that show_training_messages puts its stderr handler on `training` (under a caller
    that configured logging it leaves them to decide); that handler and level are put back after."""
    root, training = logging.getLogger(), logging.getLogger("training")
    kept, before, level = root.handlers[:], training.handlers[:], training.level
    root.handlers = []
    try:
        yield
    finally:
        root.handlers = kept
        for h in [h for h in training.handlers if h not in before]:
            training.removeHandler(h)
        training.setLevel(level)


# _cli's training settings, as TrainConfig fields (an in-process run with the same numbers)
CLI_SETTINGS = dict(batch_size=8, lr=3e-3, warmup_steps=2, log_every=1, num_threads=1, shuffle_buffer=16, progress=False,
                    tensorboard=False)


def _cli(home, tiny_home, out_dir, *extra: str) -> list[str]:
    import json

    flags = [a for k, v in CLI_SETTINGS.items() if k not in ("progress", "tensorboard")
             for a in (f"--{k.replace('_', '-')}", str(v))]
    return [sys.executable, "-m", "training.train", "--home", str(home), "--manifest", tiny_home.train_manifest,
            "--null-caption", tiny_home.null_caption, "--out-dir", str(out_dir), "--model-overrides", json.dumps(TINY),
            "--no-progress", "--no-tensorboard", *flags, *extra]


@pytest.mark.slow
def test_sigterm_stops_at_a_step_boundary_with_a_registered_checkpoint_and_resume_is_bit_identical(tiny_home, tmp_path,
                                                                                                     capsys, monkeypatch):
    """What a scheduler's SIGTERM (preemption, cancellation) must leave: the step in flight
    finished, a resumable checkpoint, registered, the run 'cancelled', exit status 143; then
    --resume to step k + 2 equals k + 2 steps straight, losses and weights bit for bit. (The stopped
    run and the resume: the command's main in this process, its exit status returned, the SIGTERM sent
    to this process; a process of its own cost ~4 s of CPU to start each.)"""
    import threading

    import training.trainer as trainer
    from catalog import Catalog
    from training.train import main

    home = own_home(tiny_home, tmp_path)
    run = tmp_path / "stopped"
    done, stuck, sent = threading.Event(), threading.Event(), []
    real = trainer.make_inputs

    def make_inputs(*a, **k):  # a run the signal did not stop ends here (the subprocess's communicate timeout)
        if stuck.is_set():
            raise RuntimeError("SIGTERM did not stop the run within 120 s")
        return real(*a, **k)

    monkeypatch.setattr(trainer, "make_inputs", make_inputs)

    def sigterm_once_3_steps_are_logged() -> None:
        deadline = time.time() + 120
        while _rows(run) < 3 and time.time() < deadline and not done.is_set():
            time.sleep(0.2)
        if not done.is_set():
            sent.append(signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)
        if not done.wait(120):
            stuck.set()

    sender = threading.Thread(target=sigterm_once_3_steps_are_logged, daemon=True)
    capsys.readouterr()
    sender.start()
    try:
        with caught_by_the_run(signal.SIGTERM):
            code = main(_cli(home, tiny_home, run, "--steps", "100000")[3:])
    finally:
        done.set()
        sender.join()
    err = capsys.readouterr().err
    assert sent and code == 128 + signal.SIGTERM, err[-3000:]
    ckpts = sorted(run.glob("checkpoint-*"))
    assert len(ckpts) == 1 and (ckpts[0] / "train_state.json").exists(), ckpts
    k = int(ckpts[0].name.split("-")[1])
    assert 3 <= k == _rows(run) < 100000 and "stopped by SIGTERM at step" in err and "--resume" in err
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, registered = cat.sql("SELECT step FROM checkpoints")
        _, status = cat.sql("SELECT status FROM runs WHERE flow_name = 'train'")
    assert registered == [(k,)] and status == [("cancelled",)]

    capsys.readouterr()
    with logging_as_a_command_line():
        code = main(_cli(home, tiny_home, run, "--steps", str(k + 2), "--resume")[3:])
    resumed = capsys.readouterr()
    assert code == 0, resumed.err[-3000:]
    # which checkpoint a resume continues is said (it was silent)
    assert f"--resume: continuing {run / f'checkpoint-{k:07d}'} from step {k}" in resumed.err and "on " + tiny_home.train_manifest.split('@')[0] + "@v" in resumed.err
    # the run never stopped, with _cli's settings: in this process (a third `python -m training.train`
    # cost a process start, ~4 s of CPU, and trains the same numbers: one thread, the same seed)
    train(TrainConfig(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                      out_dir=str(tmp_path / "straight"), model_overrides=TINY, steps=k + 2, **CLI_SETTINGS))
    assert losses(run) == losses(tmp_path / "straight") and len(losses(run)) == k + 2
    for name in ("model.safetensors", "train_state.safetensors"):
        a, b = (load_file(str(r / f"checkpoint-{k + 2:07d}" / name)) for r in (run, tmp_path / "straight"))
        assert a.keys() == b.keys() and all(torch.equal(a[n], b[n]) for n in a), name


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_whole_process_group_stops_a_run_with_loader_workers_at_a_checkpoint(tiny_home, tmp_path, sig):
    """torchrun, Slurm's scancel and a terminal signal the whole group, loader workers included:
    a worker's death by SIGTERM took the run down with no checkpoint."""
    home = own_home(tiny_home, tmp_path)
    run = tmp_path / "stopped"
    proc = subprocess.Popen(_cli(home, tiny_home, run, "--steps", "100000", "--loader-workers", "1"), env=ENV,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 120
    while _rows(run) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err[-3000:]
    ckpts = sorted(run.glob("checkpoint-*"))
    assert len(ckpts) == 1 and (ckpts[0] / "train_state.json").exists(), (ckpts, err[-3000:])
    assert f"stopped by {signal.Signals(sig).name} at step" in err


@pytest.mark.slow
def test_torchrun_ranks_stop_together_when_only_one_is_signalled(tiny_home, tmp_path):
    """The stop is agreed over ranks after each step: a rank that stopped alone would leave the
    other waiting in the next all-reduce. Only rank 1 is signalled here; both stop at the same
    step and rank 0 writes and registers the checkpoint."""
    home = own_home(tiny_home, tmp_path)
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *_cli(home, tiny_home, run, "--steps", "100000")[1:]]
    proc = subprocess.Popen(cmd, env=torchrun_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while _rows(run) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    workers = subprocess.run(["pgrep", "-f", "-P", str(proc.pid), "training.train"], capture_output=True, text=True).stdout.split()
    assert len(workers) == 2, workers
    rank1 = [p for p in workers if "LOCAL_RANK=1" in Path(f"/proc/{p}/environ").read_bytes().decode(errors="replace").replace("\0", " ")]
    os.kill(int(rank1[0]), signal.SIGTERM)
    _, err = proc.communicate(timeout=180)
    # a requested stop is no failed worker to torchrun's agent: no ChildFailedError, no rank killed
    assert proc.returncode == 0 and "ChildFailedError" not in err and "exitcode" not in err, err[-3000:]
    assert err.count("stopped by SIGTERM") == 1, err[-3000:]  # rank 0's line only (it came once per rank)
    ckpts = sorted(run.glob("checkpoint-*"))
    assert len(ckpts) == 1 and int(ckpts[0].name.split("-")[1]) == _rows(run) >= 3, (ckpts, err[-2000:])
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:  # rank 0 finished its bookkeeping first
        _, registered = cat.sql("SELECT step FROM checkpoints")
        _, status = cat.sql("SELECT status FROM runs WHERE flow_name = 'train'")
    assert registered == [(_rows(run),)] and status == [("cancelled",)]


def test_a_non_finite_gradient_skips_the_update_and_the_run_goes_on(tiny_home, tmp_path, monkeypatch, caplog):
    import logging

    import training.trainer as trainer

    real, calls = trainer.make_inputs, []

    def nan_on_the_second_step(item, *a, **k):
        calls.append(item["keys"])
        x1, x0, t, kwargs = real(item, *a, **k)
        if len(calls) == 2:
            x1 = x1.clone()
            x1[2] = math.nan  # one broken sample: its loss is NaN, and so is every gradient
        return x1, x0, t, kwargs

    monkeypatch.setattr(trainer, "make_inputs", nan_on_the_second_step)
    with caplog.at_level(logging.WARNING, logger="training.trainer"):
        r = train(tiny_cfg(tiny_home, tmp_path, steps=4, log_every=2, checkpoint_every=1, keep_last=4))
    assert r.steps == 4 and r.skipped_steps == 1
    (warning,) = [m for m in caplog.messages if "update is skipped" in m]
    assert f"samples with a non-finite loss: {calls[1][2]})" in warning  # that one sample, and no other
    raw = [load_file(str(tmp_path / f"checkpoint-{s:07d}" / "train_state.safetensors")) for s in (1, 2, 3)]
    weights = [{k: v for k, v in w.items() if k.startswith("model.")} for w in raw]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])  # step 2 changed nothing
    assert not all(torch.equal(weights[1][k], weights[2][k]) for k in weights[1])  # step 3 trained again
    assert all(torch.isfinite(v).all() for v in weights[2].values())
    with open(tmp_path / "metrics.csv") as f:
        logged = [float(row["loss"]) for row in csv.DictReader(f)]
    assert math.isnan(logged[1]) and all(math.isfinite(x) for i, x in enumerate(logged) if i != 1)
    assert r.losses[0] == (2, logged[0]) and all(math.isfinite(v) for _, v in r.losses)  # the window mean leaves it out


def non_finite_from_step(monkeypatch, first: int) -> list:
    """Every step from the `first`-th this process trains gets an infinite input; returns the list
    that counts the steps' inputs made."""
    import training.trainer as trainer

    real, calls = trainer.make_inputs, []

    def non_finite(*a, **k):
        calls.append(1)
        x1, x0, t, kwargs = real(*a, **k)
        return (x1 * math.inf if len(calls) >= first else x1), x0, t, kwargs

    monkeypatch.setattr(trainer, "make_inputs", non_finite)
    return calls


def test_too_many_non_finite_steps_in_a_row_stop_the_run_with_the_last_checkpoint_named(tiny_home, tmp_path, monkeypatch):
    calls = non_finite_from_step(monkeypatch, 3)
    # checkpoint 4 holds step 2's weights: the skipped steps changed nothing
    with pytest.raises(FloatingPointError, match=r"3 steps in a row \(to step 5\).*checkpoint-0000004"):
        train(tiny_cfg(tiny_home, tmp_path, steps=20, checkpoint_every=2, max_nonfinite_steps=2))
    assert len(calls) == 5
    with open(tmp_path / "metrics.csv") as f:  # every step, the one that stopped the run too, and the curve
        assert [int(row["step"]) for row in csv.DictReader(f)] == [1, 2, 3, 4, 5]
    assert (tmp_path / "loss_curve.png").stat().st_size > 0


def test_a_stop_file_in_the_run_folder_stops_the_run_as_its_signal_would_and_is_consumed(tiny_home, tmp_path, caplog):
    """How a run is stopped from outside (and how the Ray launcher's driver reaches its workers):
    the run stops after the step in flight with a checkpoint; the file is removed, so --resume goes on."""
    import logging

    from training.stopping import STOP_FILE, stop_file_signal, write_stop_file

    assert stop_file_signal(tmp_path) == 0
    (tmp_path / STOP_FILE).write_text("")
    assert stop_file_signal(tmp_path) == signal.SIGTERM  # a bare `touch STOP`
    write_stop_file(tmp_path, signal.SIGINT)
    with caplog.at_level(logging.WARNING, logger="training.trainer"):
        r = train(tiny_cfg(tiny_home, tmp_path, steps=6))
    assert any("STOP is there already" in m for m in caplog.messages)  # a leftover file would surprise otherwise
    # it says where the request came from (it read as a signal the run never received)
    assert f"stop requested ({tmp_path / STOP_FILE}, standing for SIGINT): stopping after step 1" in caplog.text
    assert (r.stopped_by, r.steps, Path(r.checkpoint).name) == ("SIGINT", 1, "checkpoint-0000001")
    assert not (tmp_path / STOP_FILE).exists()
    resumed = train(tiny_cfg(tiny_home, tmp_path, steps=3, resume=True))
    assert (resumed.stopped_by, resumed.steps) == (None, 3)


@pytest.mark.slow
@ray_cluster_group
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_ray_launchers_driver_stops_its_workers_with_a_checkpoint(tiny_home, tmp_path, sig, ray_address,
                                                                                 monkeypatch):
    """Ray Train runs train() in worker threads, where no signal handler can go: the driver, which
    the scheduler signals, reaches them through the STOP file. Ctrl-C too: Ray Train's own SIGINT
    handler aborted the workers, with no checkpoint and exit 1. The driver joins the shared private
    cluster (tests/training/conftest.py) instead of starting its own, and runs in this process
    (`python -m training.train`'s main, its exit status returned; a process of its own cost ~4 s of
    CPU to start): the signal goes to this process, as the scheduler's to the driver's. SIGTERM reaches
    two workers (both stop at the same step: the registered checkpoint is the last logged step); SIGINT's
    own part, Ray Train's SIGINT handler left out, is the driver's, and one worker is enough for it (a
    second was a RayTrainWorker process more: torch, gloo)."""
    import threading

    import ray

    from catalog import Catalog
    from training.train import main

    home = own_home(tiny_home, tmp_path)
    run = tmp_path / "ray"
    for k, v in RAY_TRAIN_TEST_ENV.items():
        monkeypatch.setenv(k, v)
    done, sent = threading.Event(), []
    workers = "2" if sig == signal.SIGTERM else "1"

    def signal_the_driver() -> None:
        deadline = time.time() + 240
        while _rows(run) < 3 and time.time() < deadline and not done.is_set():
            time.sleep(0.2)
        if not done.is_set():  # the driver only (the workers are Ray's processes)
            sent.append(sig)
            os.kill(os.getpid(), sig)
        if not done.wait(180):  # workers that never stop (the subprocess's communicate timeout): the run is
            from tests.training.conftest import _CLUSTER  # ended by killing them, and fails on its exit status
            from tests.training.test_ray_faults_worker_lost import _workers

            for pid in _workers(_CLUSTER.temp_dir):
                os.kill(pid, signal.SIGKILL)

    sender = threading.Thread(target=signal_the_driver, daemon=True)
    sender.start()
    try:
        with caught_by_the_run(sig):
            code = main(_cli(home, tiny_home, run, "--steps", "100000", "--launcher", "ray", "--workers", workers)[3:])
    finally:
        done.set()
        sender.join()
        ray.shutdown()
    assert sent and code == 128 + sig, code
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, registered = cat.sql("SELECT step FROM checkpoints")
        _, status = cat.sql("SELECT status FROM runs WHERE flow_name = 'train'")
    assert registered == [(_rows(run),)] and registered[0][0] >= 3 and status == [("cancelled",)]
    assert not (run / "STOP").exists()


def test_lumina_train_json_prints_the_stop_on_stdout(tiny_home, tmp_path, capsys):
    """A stopped `lumina train --json` still gives its reader a JSON object: the signal, the step and
    the checkpoint to --resume from (and the exit status of that signal). `lumina`'s main in this
    process (its exit status returned; a process of its own cost ~5 s of CPU to start)."""
    import json

    from flows.cli import main

    home = own_home(tiny_home, tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "STOP").write_text("SIGINT")  # there before the start: honoured after the first step
    args = _cli(home, tiny_home, run, "--steps", "50", "--json")[3:]  # the flags, for `lumina train`
    capsys.readouterr()
    code = main(["train", *args])
    proc = capsys.readouterr()
    assert code == 128 + signal.SIGINT, proc.err[-3000:]
    out = json.loads(proc.out)
    assert out["stopped_by"] == "SIGINT" and out["steps"] == 1 and Path(out["checkpoint"]).name == "checkpoint-0000001"
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:  # the id to pass to sample, evaluate, --init-from
        assert cat.sql("SELECT checkpoint_id FROM checkpoints WHERE uri = ?", [out["checkpoint"]])[1] == [(out["checkpoint_id"],)]


def test_a_non_finite_streak_across_a_stop_counts_whole(tiny_home, tmp_path, monkeypatch):
    """The count of non-finite steps in a row began at 0 again after a resume, so a diverged run got
    max_nonfinite_steps more skipped steps than a straight one before it stopped."""
    calls = non_finite_from_step(monkeypatch, 2)
    train(tiny_cfg(tiny_home, tmp_path, steps=3, max_nonfinite_steps=2))  # steps 2 and 3 skipped: 2 in a row
    state = json.loads((tmp_path / "checkpoint-0000003" / "train_state.json").read_text())
    assert state["nonfinite_run"] == 2
    # the checkpoint it resumed from is the last one, not "none yet"
    with pytest.raises(FloatingPointError, match=r"3 steps in a row \(to step 4\).*Last checkpoint: \S*checkpoint-0000003\."):
        train(tiny_cfg(tiny_home, tmp_path, steps=20, max_nonfinite_steps=2, resume=True))
    assert len(calls) == 4
