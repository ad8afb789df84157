"""Before a stage starts Ray (curate, encode, refresh without --local), one line says so: importing
and starting Ray took 17-19 s before its first progress bar, with nothing on the screen. None when
Ray is up already, none for a local run; without starting Ray here (a stand-in module)."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

import contracts.ray_runtime as ray_runtime
from preprocess.runner import run_stage
from preprocess.stage import Stage


class Doubling(Stage):
    name = "double"
    batch_size = 2

    def __init__(self, execution: str):
        self.execution = execution

    def process(self, batch):
        return [2 * x for x in batch]


class _Stop(Exception):
    pass


@pytest.fixture
def ray_not_started(monkeypatch):
    """A `ray` that is not initialised, and ensure_ray stopping the stage where Ray would start."""
    monkeypatch.setitem(sys.modules, "ray", SimpleNamespace(is_initialized=lambda: False))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)

    def stop(*a, **k):
        raise _Stop

    monkeypatch.setattr(ray_runtime, "ensure_ray", stop)


@pytest.mark.parametrize("execution", ["tasks", "actors"])
def test_a_stage_says_it_starts_ray_before_it_does_and_only_then(execution, ray_not_started, monkeypatch, capsys):
    if execution == "actors":  # `import ray.data` comes before ensure_ray there
        monkeypatch.setitem(sys.modules, "ray.data", SimpleNamespace(ActorPoolStrategy=object))
    assert run_stage(Doubling(execution), [1, 2, 3], backend="local") == [2, 4, 6]  # a local run: no line
    with pytest.raises(_Stop):
        run_stage(Doubling(execution), [1, 2, 3], backend="ray")
    monkeypatch.setattr(sys.modules["ray"], "is_initialized", lambda: True)  # Ray up: no line again
    with pytest.raises(_Stop):
        run_stage(Doubling(execution), [1], backend="ray")
    err = capsys.readouterr().err
    assert err.count("starting Ray (this takes ~15 s; --local skips it)\n") == 1 and err.count("Ray") == 1, err


def test_joining_a_cluster_names_it(ray_not_started, monkeypatch, capsys):
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.5:6379")
    with pytest.raises(_Stop):
        run_stage(Doubling("tasks"), [1], backend="ray")
    assert "joining the Ray cluster at 10.0.0.5:6379" in capsys.readouterr().err
