"""A rank whose collective fails because another rank's process ended (kill -9, a crash, a rank that
exited on an error of its own): what gloo raises there, told apart from any other error, and the one line
that rank can say instead of gloo's 30-line traceback of the backward pass (the walkthrough of
2026-12-06: torchrun with 2 CPU ranks, rank 1 SIGKILLed at step 25 or raising at step 3; rank 0 met
`Connection reset by peer` / `Connection closed by peer` within about 2 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.distributed import peer_lost, peer_lost_line, what_is_kept
from training.trainer import TrainConfig

RESET = ("[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:545] Read error [127.0.0.1]:48862: Connection "
         "reset by peer. This is typically caused by a remote worker hanging or bugs in the application. Check the logs "
         "of the remote worker before reporting an error. GLHF! 🏖️")
CLOSED = ("[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:561] Connection closed by peer "
          "[127.0.0.1]:19863. This is typically caused by a remote worker crashing. Check the logs of the remote worker "
          "before reporting an error. GLHF! 🏖️")


def test_gloos_lost_peer_errors_are_told_in_their_own_words():
    assert peer_lost(RuntimeError(RESET)) == "Read error [127.0.0.1]:48862: Connection reset by peer"
    assert peer_lost(RuntimeError(CLOSED)) == "Connection closed by peer [127.0.0.1]:19863"
    import torch.distributed as dist

    assert peer_lost(dist.DistBackendError(CLOSED)) == "Connection closed by peer [127.0.0.1]:19863"  # a RuntimeError


@pytest.mark.parametrize("error", [RuntimeError("cannot decode sample k-123"), ValueError(CLOSED), OSError(RESET),
                                   RuntimeError("")])
def test_any_other_error_is_not_a_lost_peer(error):
    assert peer_lost(error) is None and peer_lost_line(error, TrainConfig(out_dir="/nowhere")) is None


def test_the_line_names_the_peer_error_and_the_checkpoint_to_resume(monkeypatch):
    import training.state

    monkeypatch.setattr(training.state, "latest_resumable", lambda out_dir, content=True: Path(out_dir) / "checkpoint-0000025")
    assert peer_lost_line(RuntimeError(CLOSED), TrainConfig(out_dir="/runs/ddp")) == (
        "another rank's process ended mid-training (gloo: Connection closed by peer [127.0.0.1]:19863): its own error "
        "above, or torchrun's report, says why: the run's last checkpoint, /runs/ddp/checkpoint-0000025 (step 25), is "
        "kept: run the same command with --resume to continue from it")


def test_what_is_kept_before_the_first_checkpoint_and_of_a_damaged_one(monkeypatch):
    import training.state

    monkeypatch.setattr(training.state, "latest_resumable", lambda out_dir, content=True: None)
    assert what_is_kept(TrainConfig(out_dir="/r", checkpoint_every=0)) == (
        " before the run's first checkpoint (--checkpoint-every N keeps one every N steps): run the same command again")
    assert what_is_kept(TrainConfig(out_dir="/r", checkpoint_every=50), "restart the cluster and ") == (
        " before the run's first checkpoint (--checkpoint-every 50): restart the cluster and run the same command again")

    def damaged(out_dir, content=True):
        raise ValueError("damaged")

    monkeypatch.setattr(training.state, "latest_resumable", damaged)
    assert what_is_kept(TrainConfig(out_dir="/r")) == (
        ": the run's newest checkpoint in /r is damaged (--resume says which to continue from): run the same command "
        "with --resume to continue from it")
    assert what_is_kept(TrainConfig()) == ""  # no run folder given (a bare --resume picks one later): nothing to name
