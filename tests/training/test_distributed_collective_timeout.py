"""$LUMINA_COLLECTIVE_TIMEOUT_S: how long a rank waits in a collective for the others. A rank that hangs
alive (a stalled file system, a SIGSTOPped process, a deadlock) kept the others waiting gloo's default
30 minutes, torchrun none the wiser (the walkthrough of 2026-12-06: rank 1 of a 2-rank torchrun
SIGSTOPped at step 6: no step, no line, no exit in 40 s; a rank that dies is seen within ~2 s). torchrun's
ranks (init_distributed) and Ray Train's workers (its TorchConfig) take the value."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from training.distributed import COLLECTIVE_TIMEOUT_ENV, collective_timeout, peer_lost_line
from training.trainer import TrainConfig


def test_unset_is_torchs_own_and_a_number_of_seconds_is_taken(monkeypatch):
    monkeypatch.delenv(COLLECTIVE_TIMEOUT_ENV, raising=False)
    assert collective_timeout() is None
    monkeypatch.setenv(COLLECTIVE_TIMEOUT_ENV, " ")
    assert collective_timeout() is None
    monkeypatch.setenv(COLLECTIVE_TIMEOUT_ENV, "90.5")
    assert collective_timeout() == timedelta(seconds=90.5)


@pytest.mark.parametrize("raw", ["ten", "0", "-5", "nan", "inf"])
def test_a_value_that_is_no_wait_is_refused_in_one_line(monkeypatch, raw):
    monkeypatch.setenv(COLLECTIVE_TIMEOUT_ENV, raw)
    with pytest.raises(ValueError) as e:
        collective_timeout()
    assert str(e.value) == (f"${COLLECTIVE_TIMEOUT_ENV}={raw!r}: give the seconds a rank waits in a collective for the "
                            "others (above the longest wait at a checkpoint: its write, --resume's checksum read; unset: torch's 30 minutes for gloo, 10 for NCCL)")


def test_the_rank_that_timed_out_says_so_in_one_line(monkeypatch):
    import training.state

    monkeypatch.setattr(training.state, "latest_resumable", lambda out_dir, content=True: Path(out_dir) / "checkpoint-0000006")
    gloo = ("[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/unbound_buffer.cc:78] Timed out waiting 2000ms "
            "for recv operation to complete")
    assert peer_lost_line(RuntimeError(gloo), TrainConfig(out_dir="/runs/ddp")) == (
        "another rank did not answer a collective mid-training (gloo: Timed out waiting 2000ms for recv operation to "
        f"complete; ${COLLECTIVE_TIMEOUT_ENV} sets the wait): it hangs (a stalled file system, a stopped process): the "
        "run's last checkpoint, /runs/ddp/checkpoint-0000006 (step 6), is kept: run the same command with --resume to "
        "continue from it")


HANG_S = 20.0  # how long rank 1 hangs before it leaves (its sockets close): what rank 0 waited without the timeout


def _rank(rank: int, port: int, out: str) -> None:
    """One of 2 torchrun-like ranks (RANK, WORLD_SIZE, MASTER_*); rank 1 hangs alive, rank 0 all-reduces."""
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank), "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": str(port), COLLECTIVE_TIMEOUT_ENV: "1"})
    import torch

    from training.distributed import all_sum, init_distributed, peer_lost

    init_distributed()
    if rank == 1:
        time.sleep(HANG_S)
        return
    start = time.monotonic()
    try:
        all_sum(torch.ones(2))
        said = "answered"
    except RuntimeError as e:
        said = peer_lost(e) or str(e)
    Path(out).write_text(f"{time.monotonic() - start:.2f}\n{said}")
    os._exit(0)  # not destroy_process_group's wait for the hung rank


def test_a_rank_that_hangs_alive_ends_the_others_wait_after_the_timeout(tmp_path):
    import torch.multiprocessing as mp

    from tests.ray_processes import free_port

    out = tmp_path / "rank0.txt"
    ctx = mp.get_context("spawn")
    port = free_port()
    procs = [ctx.Process(target=_rank, args=(r, port, str(out))) for r in (0, 1)]
    for p in procs:
        p.start()
    try:
        procs[0].join(timeout=HANG_S + 30)
        waited, said = out.read_text().splitlines()
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
            p.join(timeout=10)
    assert float(waited) < 8 and said.startswith("Timed out waiting 1000ms"), (waited, said)


@pytest.mark.parametrize("raw, expected", [(None, 1800), ("90.5", 91)])
def test_ray_trains_process_group_gets_the_timeout(tmp_path, monkeypatch, raw, expected):
    """`--launcher ray`: Ray Train starts the process group (TorchConfig.timeout_s, its default 1800 s),
    so the launcher hands it the value (Ray patched out: fit() is where the trainer is seen)."""
    from tests.training.ray_launch_fakes import seen_at_fit

    if raw is None:
        monkeypatch.delenv(COLLECTIVE_TIMEOUT_ENV, raising=False)
    else:
        monkeypatch.setenv(COLLECTIVE_TIMEOUT_ENV, raw)
    seen = seen_at_fit(monkeypatch, tmp_path, lambda trainer: {"timeout_s": trainer.backend_config.timeout_s})
    assert seen == {"timeout_s": expected}


def test_ray_refuses_a_bad_value_before_starting_ray(tmp_path, monkeypatch):
    import contracts.ray_runtime as ray_runtime
    import training.ray_launcher as launcher

    monkeypatch.setenv(COLLECTIVE_TIMEOUT_ENV, "soon")

    def no_ray(*a, **k):
        raise AssertionError("Ray started")

    monkeypatch.setattr(ray_runtime, "ensure_ray", no_ray)
    with pytest.raises(ValueError, match=COLLECTIVE_TIMEOUT_ENV):
        launcher.train_with_ray(TrainConfig(out_dir=str(tmp_path / "run"), steps=2, workers=2, launcher="ray", progress=False))
