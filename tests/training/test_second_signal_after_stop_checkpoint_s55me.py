"""A second Ctrl-C after the stop's checkpoint is written (during the clean-up: the loader's threads
joined, the curve drawn) still ends the run at once, but with the line that says how it goes on.
Helper C's walkthrough (session 55): two SIGINTs 0.15 s apart printed only 'lumina train:
interrupted', though checkpoint-0013 was written and registered."""

from __future__ import annotations

import json
import os
import signal

import pytest

from tests.training.test_distributed import TINY, own_home
from training.stopping import StopRequest, TrainingStopped


@pytest.fixture(autouse=True)
def python_s_own_sigint_handler():
    """Python's handler as a command starts with: an earlier test's in-process Ray Train fit() in the
    same xdist worker leaves its own SIGINT handler installed (which a signal passed on would reach)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_a_signal_after_the_stop_checkpoint_is_written_raises_the_stop_naming_it():
    with StopRequest() as stop:
        os.kill(os.getpid(), signal.SIGINT)  # the first: only recorded
        assert stop.signum == signal.SIGINT
        stop.stop_checkpoint_written(13, "/runs/r1/checkpoint-0000013")
        with pytest.raises(TrainingStopped) as raised:
            os.kill(os.getpid(), signal.SIGINT)
    assert raised.value.step == 13 and raised.value.exit_code == 128 + signal.SIGINT
    assert "continue with --resume --out-dir /runs/r1" in str(raised.value)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handlers before are back


def test_before_the_stop_checkpoint_a_second_signal_still_reaches_the_previous_handler():
    with StopRequest():
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)


def test_a_second_ctrl_c_in_the_clean_up_prints_the_resume_line(tiny_home, tmp_path, monkeypatch, capsys):
    import training.trainer as trainer
    from training.train import main

    real_inputs, real_loader = trainer.make_inputs, trainer.batch_loader
    calls = []

    def make_inputs(*a, **k):  # the first Ctrl-C arrives in step 2
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return real_inputs(*a, **k)

    class SecondCtrlCOnClose:  # the second lands while the trainer's clean-up closes the loader
        def __init__(self, inner):
            self.inner = inner

        def __next__(self):
            return next(self.inner)

        def close(self):
            os.kill(os.getpid(), signal.SIGINT)
            getattr(self.inner, "close", lambda: None)()

    monkeypatch.setattr(trainer, "make_inputs", make_inputs)
    monkeypatch.setattr(trainer, "batch_loader", lambda *a, **k: SecondCtrlCOnClose(real_loader(*a, **k)))
    home, run = own_home(tiny_home, tmp_path), tmp_path / "run"
    capsys.readouterr()
    try:
        code = main(["--home", str(home), "--manifest", tiny_home.train_manifest, "--null-caption",
                     tiny_home.null_caption, "--out-dir", str(run), "--model-overrides", json.dumps(TINY), "--no-progress",
                     "--no-tensorboard", "--steps", "50"])
    except KeyboardInterrupt:  # not pytest's own: fail this test, not the session
        pytest.fail("the second Ctrl-C came up as KeyboardInterrupt, which names no checkpoint")
    err = capsys.readouterr().err
    assert code == 128 + signal.SIGINT, err[-2000:]
    assert "stopped by SIGINT at step 2; checkpoint" in err and f"continue with --resume --out-dir {run}" in err, err[-2000:]
    assert (run / "checkpoint-0000002").is_dir()
