"""Distributed launches: torchrun with 2 CPU processes (DDP and FSDP2, gloo) and Ray Train with 2 local workers."""

import csv
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from modelzoo import FlagDiT
from tests.training.conftest import ray_cluster_group
from training.trainer import TrainConfig, train

TINY = {"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4}
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
# Ray Train's controller polls its workers every 2 s (its default), and each change of state (workers
# up, training done) waits for the next poll: every launch idled about a poll's length. Ray Train
# passes the variable on from the driver to its controller and workers; nothing else changes.
# The shared cluster (tests/training/conftest.py) is joined, so the launcher keeps Ray Train's
# preemption watcher and metrics there, as a user's cluster needs: off here, as on the private Ray each
# launch stands in for (training.ray_launcher.RAY_TRAIN_PRIVATE_ENV): one actor process less per launch
# (~1.3 s of CPU) and a lighter controller (~0.5 s); what the tests train and assert is the same.
RAY_TRAIN_TEST_ENV = {"RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.25", "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
                      "RAY_TRAIN_METRICS_ENABLED": "0"}


def losses(run: Path) -> list[float]:
    with open(run / "metrics.csv") as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


def own_home(tiny_home, tmp_path) -> Path:
    """A copy of the shared catalog, so registrations stay in this test."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(tiny_home.catalog, home / "catalog.duckdb")
    return home


def torchrun_env(tmp: Path) -> dict:
    """torchrun leaves a torchelastic_* log folder in TMPDIR after every launch: keep it in the test's folder."""
    return {**ENV, "TMPDIR": str(tmp)}


def as_flags(opts: dict) -> list[str]:
    return [a for k, v in opts.items() for a in (f"--{k.replace('_', '-')}", str(v))]


def torchrun(home, tiny_home, out_dir, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "training.train",
           "--home", str(home), "--manifest", tiny_home.train_manifest, "--null-caption", tiny_home.null_caption,
           "--out-dir", str(out_dir), "--model-overrides", json.dumps(TINY), "--no-progress", "--no-tensorboard", *extra]
    return subprocess.run(cmd, env=torchrun_env(Path(out_dir).parent), capture_output=True, text=True, timeout=300)


# DDP against one process with the same global batch (loss trace, final weights, checkpoints registered by
# rank 0 only): tests/training/test_distributed_torchrun_restart_resumes.py, in its launch.


@pytest.mark.slow
def test_a_batch_smaller_than_the_world_is_trained_not_dropped(tiny_home, tmp_path):
    """Batches of N - 1 samples: each epoch ends with a batch of one, which two ranks cannot split.
    It used to be dropped (a token budget dropped whole image sizes this way, silently); the rank
    without a sample now runs a stand-in that counts zero, so the trace equals one process's."""
    from catalog import load_manifest

    n = len(load_manifest(tiny_home.catalog, tiny_home.train_manifest).members)
    home = own_home(tiny_home, tmp_path)
    # a 32x32 digit is 72 tokens: two do not fit in 100, so every batch holds one (batches of n - 1
    # end no epoch on a batch of one any more: the last full batch gives the odd sample a partner)
    opts = dict(steps=3, tokens_per_batch=100, lr=3e-3, warmup_steps=1, log_every=1, num_threads=1, shuffle_buffer=16)
    train(TrainConfig(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                      out_dir=str(tmp_path / "one"), model_overrides=TINY, progress=False, tensorboard=False, **opts))
    proc = torchrun(home, tiny_home, tmp_path / "ddp", *as_flags(opts))
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(tmp_path / "ddp" / "metrics.csv") as f:
        assert [int(r["samples"]) for r in csv.DictReader(f)] == [1, 1, 1]
    torch.testing.assert_close(losses(tmp_path / "ddp"), losses(tmp_path / "one"), rtol=1e-5, atol=1e-6)
    a, b = (load_file(str(Path(r) / "checkpoint-0000003" / "train_state.safetensors")) for r in (tmp_path / "one", tmp_path / "ddp"))
    for k in (k for k in a if k.startswith("model.")):
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_fsdp2_on_two_cpu_processes_matches_one_process_and_resumes_bit_identically(tiny_home, tmp_path):
    """FSDP2 (fully_shard per block, gloo): the loss trace of one process with the same global batch;
    each rank writes its own shards of the training state, and its step-2 checkpoint + --resume to
    step 4 == 4 steps straight, bit for bit. The resumed run writes its checkpoints with
    --async-checkpoint (DCP's async_save, step 3's written while step 4 trains): the same files as the
    straight run's synchronous ones (a run of its own for that cost a third 2-process launch). The same
    checkpoint also resumes in one process. (bf16 parameters: tests/training/test_gpu_scripts_smoke.py.)"""
    from safetensors import safe_open

    from training.sharded_state import read_whole

    home = own_home(tiny_home, tmp_path)
    opts = dict(batch_size=8, lr=3e-3, warmup_steps=2, log_every=1, num_threads=1, shuffle_buffer=16)
    flags = as_flags(opts) + ["--parallel", "fsdp", "--steps", "4"]
    common = dict(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                  model_overrides=TINY, progress=False, tensorboard=False, steps=4, **opts)
    train(TrainConfig(out_dir=str(tmp_path / "one"), checkpoint_every=2, **common))
    proc = torchrun(home, tiny_home, tmp_path / "straight", *flags, "--checkpoint-every", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for run in ("resumed", "resumed_in_one"):  # what a run stopped after step 2 leaves behind
        (tmp_path / run).mkdir()
        shutil.copytree(tmp_path / "straight" / "checkpoint-0000002", tmp_path / run / "checkpoint-0000002")
        shutil.copy(tmp_path / "straight" / "metrics.csv", tmp_path / run / "metrics.csv")
    # --async-checkpoint: each rank's shards staged and written by DCP's async_save, published by
    # rank 0 once all are on disk
    proc = torchrun(home, tiny_home, tmp_path / "resumed", *flags, "--resume", "--checkpoint-every", "1", "--async-checkpoint")
    assert proc.returncode == 0, proc.stderr[-3000:]
    torch.testing.assert_close(losses(tmp_path / "straight"), losses(tmp_path / "one"), rtol=1e-5, atol=1e-6)
    # the async writes of the resumed run: the same files as the synchronous ones of the straight run
    for name in ("checkpoint-0000003", "checkpoint-0000004"):
        a, b = (read_whole(tmp_path / run / name) for run in ("straight", "resumed"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
        a, b = (load_file(str(tmp_path / run / name / "model.safetensors")) for run in ("straight", "resumed"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    assert losses(tmp_path / "resumed") == losses(tmp_path / "straight") and len(losses(tmp_path / "straight")) == 4

    ckpt = tmp_path / "straight" / "checkpoint-0000004"
    assert not (ckpt / "train_state.safetensors").exists()
    assert sorted(p.name for p in ckpt.glob("*.safetensors*")) == ["model.safetensors"]  # assembled, nothing left over
    total = sum(v.numel() for k, v in load_file(str(ckpt / "model.safetensors")).items())
    for rank in (1, 2):  # each rank wrote about half of the weights, EMA and AdamW moments: nothing was gathered
        files = sorted((ckpt / "train_state").glob(f"shard-{rank:05d}-*.safetensors"))
        assert len(files) == 1 + TINY["n_layers"]  # a file per block, one for the rest
        held = dict.fromkeys(("model", "ema", "optim", "rng"), 0)
        for file in files:
            with safe_open(str(file), "pt") as f:
                for k in f.keys():  # the EMA weights go by their own names
                    part = k.split(".")[0] if k.split(".")[0] in held else "ema"
                    held[part] += math.prod(f.get_slice(k).get_shape())
        assert 0.3 * total < held["model"] < 0.7 * total and 0.3 * total < held["ema"] < 0.7 * total, held
        assert 0.6 * total < held["optim"] < 1.4 * total, held  # exp_avg + exp_avg_sq

    a, b = (read_whole(tmp_path / run / "checkpoint-0000004") for run in ("straight", "resumed"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    a_ema, b_ema = (load_file(str(tmp_path / run / "checkpoint-0000004" / "model.safetensors")) for run in ("straight", "resumed"))
    assert a_ema.keys() == b_ema.keys() and all(torch.equal(a_ema[k], b_ema[k]) for k in a_ema)

    one_dir = tmp_path / "one" / "checkpoint-0000004"
    one, one_ema = load_file(str(one_dir / "train_state.safetensors")), load_file(str(one_dir / "model.safetensors"))
    names = [n for n, _ in FlagDiT.from_pretrained(one_dir).named_parameters()]  # the optimizer's order
    for k, v in one.items():  # the same numbers as one process; optimizer state by name instead of index
        if k.startswith("model."):
            torch.testing.assert_close(a[k], v, rtol=1e-4, atol=1e-6)
        elif k.startswith("optim."):
            _, i, field = k.split(".", 2)
            torch.testing.assert_close(a[f"optim.{names[int(i)]}.{field}"], v, rtol=1e-4, atol=1e-6)
    for k, v in one_ema.items():  # the sharded EMA averages what the unsharded one does
        torch.testing.assert_close(a[k], v, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(a_ema[k], v, rtol=1e-4, atol=1e-6)

    # the 2-rank shards resume in one process: DCP reads the pieces back into whole tensors
    train(TrainConfig(out_dir=str(tmp_path / "resumed_in_one"), resume=True, **common))
    torch.testing.assert_close(losses(tmp_path / "resumed_in_one"), losses(tmp_path / "straight"), rtol=1e-5, atol=1e-6)

    # and the other way: a one-process (whole-tensor) checkpoint resumes in an FSDP2 run
    (tmp_path / "one_to_fsdp").mkdir()
    shutil.copytree(one_dir.parent / "checkpoint-0000002", tmp_path / "one_to_fsdp" / "checkpoint-0000002")
    shutil.copy(one_dir.parent / "metrics.csv", tmp_path / "one_to_fsdp" / "metrics.csv")
    proc = torchrun(home, tiny_home, tmp_path / "one_to_fsdp", *flags, "--resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    torch.testing.assert_close(losses(tmp_path / "one_to_fsdp"), losses(tmp_path / "one"), rtol=1e-5, atol=1e-6)
    ema = load_file(str(tmp_path / "one_to_fsdp" / "checkpoint-0000004" / "model.safetensors"))
    for k, v in one_ema.items():
        torch.testing.assert_close(ema[k], v, rtol=1e-4, atol=1e-6)


@pytest.mark.slow
@ray_cluster_group
@pytest.mark.parametrize("parallel", ["ddp", "fsdp"])
def test_ray_train_with_two_local_workers_completes(tiny_home, tmp_path, parallel, capsys, ray_address, monkeypatch):
    """On the shared private cluster (tests/training/conftest.py), joined through RAY_ADDRESS."""
    import ray

    for k, v in RAY_TRAIN_TEST_ENV.items():
        monkeypatch.setenv(k, v)

    from training.ray_launcher import train_with_ray

    cfg = TrainConfig(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                      out_dir=str(tmp_path / "ray"), model_overrides=TINY, steps=3, batch_size=8, log_every=1, num_threads=1,
                      launcher="ray", workers=2, progress=True, tensorboard=False, parallel=parallel)
    try:
        result, _ = train_with_ray(cfg)
    finally:
        ray.shutdown()
    assert result.steps == 3 and Path(result.checkpoint, "model.safetensors").exists()
    assert len(losses(tmp_path / "ray")) == 3
    assert "3/3" in capsys.readouterr().err  # the driver's bar, from rank 0's metrics.csv (nothing was shown)
    assert not (tmp_path / "ray" / "ray").exists()  # Ray Train's storage held only its markers


@pytest.mark.slow
def test_two_ranks_stopped_right_after_a_periodic_checkpoint_agree_it_is_the_last(tiny_home, tmp_path):
    """A STOP file read after step 1, which has just checkpointed: every rank must see that checkpoint
    as the final one (only rank 0 publishes, so a rank that went by its own list of published
    folders would start another checkpoint alone and hang in its collectives)."""
    import signal

    from training.stopping import write_stop_file

    home = own_home(tiny_home, tmp_path)
    write_stop_file(tmp_path / "ddp", signal.SIGTERM)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "training.train",
           "--home", str(home), "--manifest", tiny_home.train_manifest, "--null-caption", tiny_home.null_caption,
           "--out-dir", str(tmp_path / "ddp"), "--model-overrides", json.dumps(TINY), "--no-progress", "--no-tensorboard",
           "--steps", "3", "--checkpoint-every", "1", "--batch-size", "8", "--num-threads", "1"]
    proc = subprocess.run(cmd, env=torchrun_env(tmp_path), capture_output=True, text=True, timeout=120)  # the bug: a hang
    # a requested stop under torchrun exits 0 on every rank: torchrun ends cleanly, no ChildFailedError
    assert proc.returncode == 0 and "stopped by SIGTERM at step 1" in proc.stderr, proc.stderr[-3000:]
    assert "ChildFailedError" not in proc.stderr
    assert sorted(p.name for p in (tmp_path / "ddp").glob("checkpoint-*")) == ["checkpoint-0000001"]
