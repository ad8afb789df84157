"""A user error only one Ray Train worker meets (a sample only it reads, a file only its node lacks):
`lumina train --launcher ray` said it in one line, but not whose it was, where torchrun's ranks say
`error: rank 1: ...` (training.train.say_error). Now a rank other than 0 is named, the error's type
kept (exit 2 as before); and the other worker, left waiting in a collective, does not hang the run
(the walkthrough of 2026-12-06: rank 1 raising on its third batch; the driver got it ~2 s later)."""

from __future__ import annotations

import contextlib

import pytest

from contracts import ray_runtime as rt
from tests.training.conftest import ray_cluster_group
from training.ray_launcher import fit_watched
from training.trainer import TrainConfig

BAD = "cannot decode sample k-123 of shard 00001.tar"


class WorkersFail:
    """A TorchTrainer whose fit() fails as Ray Train's does when a worker raises."""

    def __init__(self, failures: dict[int, Exception]):
        self.failures = failures

    def fit(self):
        from ray.train import WorkerGroupError

        raise WorkerGroupError("[Rank 1 Error Snippet]: ...", self.failures)


@pytest.fixture
def live_gcs(monkeypatch):
    """A Ray cluster that still answers (no Ray here: the watch would start one)."""
    monkeypatch.setattr(rt, "gcs_watched", contextlib.nullcontext)
    monkeypatch.setattr(rt, "gcs_address", lambda: None)
    monkeypatch.setattr(rt, "gcs_lost", lambda gcs, after: False)


@pytest.mark.parametrize("error, said", [
    (ValueError(BAD), f"rank 1: {BAD}"),
    (FileNotFoundError(2, "No such file or directory", "/data/x.tar"), "rank 1: [Errno 2] No such file or directory: '/data/x.tar'"),
])
def test_an_error_only_rank_1_met_is_raised_as_itself_naming_rank_1(live_gcs, tmp_path, error, said):
    with pytest.raises(type(error)) as e:
        fit_watched(WorkersFail({1: error}), TrainConfig(out_dir=str(tmp_path)))
    assert str(e.value) == said and type(e.value) is type(error)
    assert type(e.value.__cause__).__name__ == "WorkerGroupError"


def test_rank_0s_error_and_a_key_error_are_left_as_they_are(live_gcs, tmp_path):
    error = ValueError(BAD)
    with pytest.raises(ValueError) as e:
        fit_watched(WorkersFail({0: error, 1: RuntimeError("gloo: Connection closed by peer")}), TrainConfig(out_dir=str(tmp_path)))
    assert e.value is error
    key = KeyError("latent")  # its text is the key, quoted: "rank 1: " would go inside the quotes
    with pytest.raises(KeyError) as e:
        fit_watched(WorkersFail({1: key}), TrainConfig(out_dir=str(tmp_path)))
    assert e.value is key


def test_lumina_train_says_whose_error_it_was(live_gcs, monkeypatch, tmp_path, capsys):
    import flows.cli
    import flows.steps

    def train_step(home, cfg, *a, **k):  # as train_with_ray, once rank 1 has raised
        return fit_watched(WorkersFail({1: ValueError(BAD)}), cfg)

    monkeypatch.setattr(flows.steps, "train_step", train_step)
    assert flows.cli.main(["train", "--manifest", "m", "--out-dir", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.splitlines() == [f"lumina train: error: rank 1: {BAD}"]


def rank_1_fails_on_its_second_batch(config: dict) -> None:
    """training.ray_launcher._worker_loop, in a worker whose rank 1 meets a bad sample on its second batch."""
    import ray.train

    import training.trainer as trainer
    from training.ray_launcher import _worker_loop

    if ray.train.get_context().get_world_rank() == 1:
        real = trainer.batch_loader

        def batch_loader(*args, **kwargs):
            for n, item in enumerate(real(*args, **kwargs), 1):
                if n == 2:
                    raise ValueError(BAD)
                yield item

        trainer.batch_loader = batch_loader
    _worker_loop(config)


@pytest.mark.slow
@ray_cluster_group
def test_a_real_worker_raising_alone_ends_the_run_naming_its_rank(tiny_home, tmp_path, ray_address, monkeypatch):
    """2 workers on the shared private cluster (tests/training/conftest.py): rank 1 raises on its second
    batch while rank 0 waits for it in the step's all-reduce. fit() ends with rank 1's error (Ray Train
    stops rank 0), not gloo's 30-minute timeout."""
    import time

    import ray

    import training.ray_launcher as launcher
    from tests.training.test_distributed import RAY_TRAIN_TEST_ENV, TINY

    for k, v in RAY_TRAIN_TEST_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(launcher, "_worker_loop", rank_1_fails_on_its_second_batch)
    cfg = TrainConfig(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                      out_dir=str(tmp_path / "ray"), model_overrides=TINY, steps=20, batch_size=8, num_threads=1,
                      launcher="ray", workers=2, progress=False, tensorboard=False)
    start = time.monotonic()
    try:
        with pytest.raises(ValueError, match=f"^rank 1: {BAD}$"):
            launcher.train_with_ray(cfg)
    finally:
        ray.shutdown()
    assert time.monotonic() - start < 120
    assert not (tmp_path / "ray" / "ray").exists()  # Ray Train's storage folder, only its marker: gone on a failure too
