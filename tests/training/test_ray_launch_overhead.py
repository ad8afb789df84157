"""What a `--launcher ray` launch sets for Ray Train (training.ray_launcher.ray_train_env): a controller
poll every 0.5 s instead of Ray's 2 s (a launch ended up to 2 s after its workers), and on the private
Ray no preemption watcher (one more actor process per launch) and no Ray Train metrics. A value of the
user's own wins, a joined cluster keeps the watcher and the metrics, and nothing stays in the
environment after the launch. No Ray is started here."""

from __future__ import annotations

import os

import pytest

from training.ray_launcher import RAY_TRAIN_ENV, RAY_TRAIN_PRIVATE_ENV, ray_train_env

POLL = "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S"
WATCHER = "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER"
METRICS = "RAY_TRAIN_METRICS_ENABLED"


@pytest.fixture
def clean_env(monkeypatch):
    """None of the variables set; the test's own changes undone after (setenv then delenv restores)."""
    for k in (POLL, WATCHER, METRICS):
        monkeypatch.setenv(k, "x")  # so that monkeypatch puts back what was there before, or nothing
        monkeypatch.delenv(k)
    yield
    for k in (POLL, WATCHER, METRICS):
        assert k not in os.environ, f"{k} left in the environment after the launch"


def test_private_ray_launch_sets_a_faster_poll_and_no_watcher_nor_metrics_then_puts_back(clean_env):
    with ray_train_env(private=True) as env:
        assert os.environ[POLL] == "0.5"
        assert os.environ[WATCHER] == "0"
        assert os.environ[METRICS] == "0"
        assert env == {POLL: "0.5", WATCHER: "0", METRICS: "0"}
        # Ray Train v2 hands these to its controller and workers (the watcher and the poll are read
        # there); the metrics switch is read in the driver, where fit() builds its callbacks
        from ray.train.v2._internal.constants import get_env_vars_to_propagate

        passed = get_env_vars_to_propagate()
        assert passed.get(POLL) == "0.5" and passed.get(WATCHER) == "0"
    # clean_env checks that nothing stayed


def test_a_joined_cluster_keeps_the_watcher_and_metrics(clean_env):
    with ray_train_env(private=False) as env:
        assert env == {POLL: "0.5"}
        assert WATCHER not in os.environ and METRICS not in os.environ


def test_the_users_own_values_win_and_stay(clean_env, monkeypatch):
    monkeypatch.setenv(POLL, "0.25")  # as tests/training/test_distributed.py sets it
    monkeypatch.setenv(WATCHER, "1")
    with ray_train_env(private=True):
        assert os.environ[POLL] == "0.25" and os.environ[WATCHER] == "1" and os.environ[METRICS] == "0"
    assert os.environ[POLL] == "0.25" and os.environ[WATCHER] == "1"
    monkeypatch.delenv(POLL)
    monkeypatch.delenv(WATCHER)


def test_metrics_switch_drops_ray_trains_metrics_callbacks(clean_env, tmp_path):
    """The metrics switch is one Ray Train reads (its driver-side callbacks), without starting Ray."""
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    trainer = TorchTrainer(lambda c: None, scaling_config=ScalingConfig(num_workers=2),
                           run_config=RunConfig(name="train", storage_path=str(tmp_path)))
    names = {type(c).__name__ for c in trainer._create_default_callbacks()}
    assert "ControllerMetricsCallback" in names
    with ray_train_env(private=True):
        names = {type(c).__name__ for c in trainer._create_default_callbacks()}
    assert not names & {"ControllerMetricsCallback", "WorkerMetricsCallback"}


@pytest.mark.parametrize("private", [True, False])
def test_train_with_ray_runs_fit_in_that_environment(clean_env, tmp_path, monkeypatch, private):
    """The launcher itself: what Ray Train would pass on as fit() runs (Ray patched out)."""
    from tests.training.ray_launch_fakes import seen_at_fit

    def look(trainer):
        from ray.train.v2._internal.constants import get_env_vars_to_propagate

        return {**get_env_vars_to_propagate(), "metrics": os.environ.get(METRICS)}

    seen = seen_at_fit(monkeypatch, tmp_path, look, private)
    assert seen.get(POLL) == RAY_TRAIN_ENV[POLL]
    if private:
        assert seen.get(WATCHER) == RAY_TRAIN_PRIVATE_ENV[WATCHER] and seen["metrics"] == "0"
    else:
        assert WATCHER not in seen and seen["metrics"] is None


def test_a_launch_leaves_out_ray_trains_datasets_callback_it_has_no_datasets_for(clean_env, tmp_path, monkeypatch):
    """Ray Train's DatasetsCallback started a DatasetManager actor (one more process, ~1.3 s of CPU) on
    every launch, for datasets we never give it; a trainer given datasets keeps it. No Ray is started."""
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from tests.training.ray_launch_fakes import seen_at_fit
    from training.ray_launcher import DATASETS_CALLBACK, without_unused_datasets

    def names(trainer) -> set[str]:
        return {type(c).__name__ for c in trainer._create_default_callbacks()}

    seen = seen_at_fit(monkeypatch, tmp_path, lambda trainer: {"names": names(trainer)})
    assert DATASETS_CALLBACK not in seen["names"] and "BackendSetupCallback" in seen["names"], seen
    kwargs = dict(scaling_config=ScalingConfig(num_workers=2), run_config=RunConfig(name="train", storage_path=str(tmp_path)))
    assert DATASETS_CALLBACK in names(TorchTrainer(lambda c: None, **kwargs))  # the name Ray Train (v2) gives it
    with_data = without_unused_datasets(TorchTrainer)(lambda c: None, datasets={"train": lambda: None}, **kwargs)
    assert DATASETS_CALLBACK in names(with_data)
