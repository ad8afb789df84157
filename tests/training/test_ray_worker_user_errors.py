"""A user error raised inside a Ray Train worker (a diverged run, a damaged checkpoint) reaches the
driver as ray.train's WorkerGroupError, with no __cause__: `lumina train --launcher ray` printed its
traceback and exited 1 where the docs promise one line, exit 2 (review of 2026-12-05,
/tmp/rv39/ray_div.py). fit_watched re-raises the lowest failed rank's own error when it is a user error."""

from __future__ import annotations

import contextlib

import pytest

from contracts import ray_runtime as rt
from tests.training.conftest import ray_cluster_group
from training.divergence import TrainingDiverged
from training.ray_launcher import fit_watched, without_unused_datasets
from training.trainer import TrainConfig

DIVERGED = "4 steps in a row (to step 9) had a non-finite gradient norm: the run has diverged"


class WorkersFail:
    """A TorchTrainer whose fit() fails as Ray Train's does when its workers raise."""

    def __init__(self, failures: dict[int, Exception]):
        self.failures = failures

    def fit(self):
        from ray.train import WorkerGroupError

        raise WorkerGroupError("[Rank 0 Error Snippet]: ...", self.failures)


@pytest.fixture
def live_gcs(monkeypatch):
    """A Ray cluster that still answers (no Ray here: the watch would start one)."""
    monkeypatch.setattr(rt, "gcs_watched", contextlib.nullcontext)
    monkeypatch.setattr(rt, "gcs_address", lambda: None)
    monkeypatch.setattr(rt, "gcs_lost", lambda gcs, after: False)


def test_a_workers_user_error_is_re_raised_as_itself_from_the_lowest_failed_rank(live_gcs, tmp_path):
    class Wrapped(Exception):  # as a RayTaskError carries the worker's exception
        def __init__(self, cause):
            super().__init__("wrapped")
            self.cause = cause

    diverged = TrainingDiverged(DIVERGED)
    with pytest.raises(TrainingDiverged) as e:
        fit_watched(WorkersFail({1: RuntimeError("gloo: connection closed by peer"), 0: Wrapped(diverged)}),
                    TrainConfig(out_dir=str(tmp_path)))
    assert e.value is diverged
    with pytest.raises(Exception) as e:  # the lowest rank's is no user error: Ray's own, as before
        fit_watched(WorkersFail({0: RuntimeError("a bug"), 1: ValueError("a refusal")}), TrainConfig(out_dir=str(tmp_path)))
    assert type(e.value).__name__ == "WorkerGroupError"


def test_a_diverged_ray_worker_is_one_line_and_exit_2_in_lumina_train(live_gcs, monkeypatch, tmp_path, capsys):
    import flows.cli
    import flows.steps

    def train_step(home, cfg, *a, **k):  # as train_with_ray, once the workers have failed
        return fit_watched(WorkersFail({0: TrainingDiverged(DIVERGED)}), cfg)

    monkeypatch.setattr(flows.steps, "train_step", train_step)
    assert flows.cli.main(["train", "--manifest", "m", "--out-dir", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.splitlines() == [f"lumina train: error: {DIVERGED}"]


@pytest.mark.slow
@ray_cluster_group
def test_a_real_ray_train_worker_raising_training_diverged_reaches_the_driver_as_itself(tmp_path, ray_address, monkeypatch):
    """As /tmp/rv39/ray_div.py: a real TorchTrainer of one worker whose loop diverges (on the shared
    private cluster of tests/training/conftest.py, joined through RAY_ADDRESS)."""
    from contracts.ray_runtime import ensure_ray
    from tests.training.test_distributed import RAY_TRAIN_TEST_ENV

    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    def loop(config):
        from training.divergence import TrainingDiverged

        raise TrainingDiverged(DIVERGED)

    for k, v in RAY_TRAIN_TEST_ENV.items():
        monkeypatch.setenv(k, v)
    ensure_ray()
    try:  # TorchTrainer as the launcher makes it: without the DatasetsCallback it has no datasets for (an actor less)
        trainer = without_unused_datasets(TorchTrainer)(loop, scaling_config=ScalingConfig(num_workers=1),
                                                        run_config=RunConfig(storage_path=str(tmp_path / "ray")))
        with pytest.raises(TrainingDiverged, match="non-finite gradient norm"):
            fit_watched(trainer, TrainConfig(out_dir=str(tmp_path)))
    finally:
        ray.shutdown()
