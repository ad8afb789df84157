"""The `train` deployment's trigger starts train_flow with once_per_version: the refresh flow sends
lumina.manifest.updated at least once (a refresh killed after the event and before it consumed the
training sends it again), and a repeated event trained the same manifest version a second time.
With the flag, a version that a train run took (running, completed, cancelled) trains nothing and
records no run; a failed run does not count; without the flag (by hand) it trains as before."""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

import pytest
import yaml

from tests.training.test_distributed import TINY, own_home

PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"


def _options(tiny_home) -> dict:
    return {"model_overrides": TINY, "steps": 2, "batch_size": 8, "log_every": 1, "warmup_steps": 1, "num_threads": 1,
            "progress": False, "tensorboard": False, "shuffle_buffer": 16, "null_caption": tiny_home.null_caption}


def _train_runs(home: Path) -> list[tuple]:
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, rows = cat.sql("SELECT run_id, status, parameters->>'manifest', parameters->>'manifest_version' FROM runs "
                          "WHERE flow_name = 'train' ORDER BY started_at")
    return rows


def _record_run(home: Path, manifest: str, version: int, status: str | None) -> str:
    """A train run row as train_step records it (the plain name, the version apart); status None: still running."""
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb") as cat:
        run_id = cat.start_run("train", {"manifest": manifest, "manifest_version": version})
        if status is not None:
            cat.finish_run(run_id, status=status)
    return run_id


@pytest.fixture
def logged():
    """What flows.train logs (a handler of its own: Prefect's logging set-up, on the first training,
    replaces the root's handlers, caplog's among them)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    logger = logging.getLogger("flows.train")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)


def _is_noop(out, logged, manifest_id: str, run_id: str, status: str) -> None:
    from prefect.states import State

    said = (f"{manifest_id} is already trained by run {run_id} ({status}): a repeated lumina.manifest.updated event; "
            "nothing to train (once_per_version)")
    assert isinstance(out, State) and out.is_completed() and out.message == said, out
    assert [r.getMessage() for r in logged if "already trained" in r.getMessage()] == [said]
    logged.clear()


def test_a_repeated_trigger_trains_a_version_once_and_a_failed_run_does_not_count(tiny_home, tmp_path, logged):
    from flows.train import train_flow

    home = own_home(tiny_home, tmp_path)
    m = tiny_home.train_manifest  # version 1
    failed = _record_run(home, m, 1, "failed")
    _record_run(home, m, 2, "completed")  # another version's run
    _record_run(home, f"{m}-other", 1, "completed")  # another manifest's
    before = _train_runs(home)

    first = train_flow.fn(manifest=f"{m}@v1", home=str(home), options=_options(tiny_home), once_per_version=True)
    assert isinstance(first, dict) and first["run_id"], first  # the failed run did not count: it trained
    runs = _train_runs(home)
    assert runs[:len(before)] == before and runs[len(before):] == [(first["run_id"], "completed", m, "1")], runs

    # the same event again, and the other forms of the same version's id: nothing trained, no run recorded
    for manifest, extra in ((f"{m}@v1", {}), (m, {}), (m, {"manifest_version": 1})):
        out = train_flow.fn(manifest=manifest, home=str(home), options={**_options(tiny_home), **extra}, once_per_version=True)
        _is_noop(out, logged, f"{m}@v1", first["run_id"], "completed")
    assert _train_runs(home) == runs
    assert failed not in {r[0] for r in runs[len(before):]}


@pytest.mark.parametrize("status", [None, "cancelled"])
def test_a_running_or_cancelled_run_takes_the_version_too(tiny_home, tmp_path, logged, status):
    from flows.train import train_flow

    home = own_home(tiny_home, tmp_path)
    m = tiny_home.train_manifest
    _record_run(home, m, 1, "completed")
    taken = _record_run(home, m, 1, status)  # the newest one is named
    runs = _train_runs(home)
    out = train_flow.fn(manifest=f"{m}@v1", home=str(home), options=_options(tiny_home), once_per_version=True)
    _is_noop(out, logged, f"{m}@v1", taken, status or "running")
    assert _train_runs(home) == runs


def test_without_the_flag_a_trained_version_trains_again(tiny_home, tmp_path):
    """By hand (lumina train, a deployment run without once_per_version): nothing changes."""
    from flows.train import train_flow

    home = own_home(tiny_home, tmp_path)
    m = tiny_home.train_manifest
    done = _record_run(home, m, 1, "completed")
    out = train_flow.fn(manifest=f"{m}@v1", home=str(home), options=_options(tiny_home))
    assert isinstance(out, dict) and out["run_id"] not in (None, done), out
    assert [r[:2] for r in _train_runs(home)] == [(done, "completed"), (out["run_id"], "completed")]


def test_the_trigger_sets_the_flag_and_by_hand_it_is_off():
    from flows.train import train_flow

    deployment = next(d for d in yaml.safe_load(PREFECT_YAML.read_text())["deployments"] if d["name"] == "train")
    params = inspect.signature(train_flow.fn).parameters
    (trigger,) = deployment["triggers"]
    assert set(trigger["parameters"]) <= set(params), sorted(set(trigger["parameters"]) - set(params))
    assert trigger["parameters"]["once_per_version"] is True
    assert "once_per_version" not in (deployment.get("parameters") or {})  # a run by hand trains
    assert params["once_per_version"].default is False
