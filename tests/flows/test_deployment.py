"""A real deployment: Prefect server on 127.0.0.1, a process work pool, `prefect deploy --all`, a
worker, `prefect deployment run`, then the catalog rows. Every process started here is stopped.

One server for everything (it takes a while to start): the refresh deployment on a folder, a change
to the folder (5 added, 2 deleted, 1 caption changed), a second refresh fired by an interval
schedule the test sets, the train run that the live manifest's growth event starts through the
trigger in prefect.yaml, and a second train run cancelled mid-training (what `prefect flow-run cancel` does, by the client: the
worker's SIGTERM ends it Cancelled, with a registered checkpoint). data_to_model itself runs end to end in tests/flows/test_demo_e2e.py; here
its deployment only has to be registered (`deploy --all` imports every entrypoint)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import shutil
import urllib.request
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from tests.flows.prefect_db_s57c import seed_prefect_db

REPO = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).parent / "prefect")
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen, first=signal.SIGINT, grace: float = 15) -> None:
    """A Prefect worker ignores the first SIGTERM: interrupt, wait, then kill the whole group."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, first)
        proc.wait(grace)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        pass
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:  # loopback only
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("prefect server did not become healthy")


TINY_TRAIN = {"steps": 4, "batch_size": 8, "model_overrides": {"dim": 32, "n_layers": 1, "n_heads": 2},
              "tensorboard": False, "progress": False, "max_seconds": 120}
LIVE = {"refresh-live": {"where": "modality = 'image'", "train_min_growth": 5, "train_options": TINY_TRAIN}}


def _refresh_source(tmp_path: Path) -> tuple[Path, Path]:
    """20 digit images with captions in src; 5 more waiting in the staging folder."""
    from preprocess.image.demo_corpus import write_demo_corpus

    stage = write_demo_corpus(tmp_path / "stage", num_digits=25, num_shapes=0).root / "digits"
    src = tmp_path / "src"
    src.mkdir()
    for f in sorted(stage.iterdir()):
        if int(f.stem.split("_")[1]) < 20:
            shutil.copy(f, src / f.name)
    return src, stage


def _change_source(src: Path, stage: Path) -> None:
    for f in sorted(stage.iterdir()):
        if int(f.stem.split("_")[1]) >= 20:
            shutil.copy(f, src / f.name)
    for stem in ("digit_00003", "digit_00004"):
        (src / f"{stem}.png").unlink()
        (src / f"{stem}.txt").unlink()
    (src / "digit_00005.txt").write_text("a handwritten digit, caption rewritten by the test")


def _shard_state(home: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted((home / "curated" / "image").glob("*.tar"))}


def _drop_queued_runs(client, deployment: str, keep) -> None:
    """Runs of the interval schedule still queued, but ``keep`` (clearing deletes those it finds; this
    is for one the scheduler wrote meanwhile): the worker (limit 1) would run each ahead of the
    triggered train run, ~15-30 s apiece."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    dep = client.read_deployment_by_name(deployment)
    for r in client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id]))):
        if r.id != keep and r.auto_scheduled and r.state is not None and r.state.is_scheduled():
            client.delete_flow_run(r.id)


def _clear_schedules(client, deployment: str) -> None:
    """What `prefect deployment schedule clear DEPLOYMENT -y` does (prefect/cli/deployment.py), without
    a second interpreter's ~3 s of imports, at the moment the test needs it."""
    dep = client.read_deployment_by_name(deployment)
    for schedule in dep.schedules:
        client.delete_deployment_schedule(dep.id, schedule.id)


def _started_run(client, deployment: str, accept, timeout: float):
    """The first flow run of ``deployment`` that ``accept``s and left Scheduled (a worker took it:
    clearing a schedule deletes its auto-scheduled runs that are still Scheduled)."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    dep = client.read_deployment_by_name(deployment)
    deadline = time.time() + timeout
    while time.time() < deadline:
        runs = [r for r in client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])))
                if accept(r) and r.state is not None and not r.state.is_scheduled()]
        if runs:
            return min(runs, key=lambda r: r.expected_start_time)
        time.sleep(0.5)
    raise TimeoutError(f"no run of {deployment} within {timeout:g} s")


def _wait_for_run(client, deployment: str, accept, timeout: float):
    """The first flow run of ``deployment`` that ``accept``s and reached a final state."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    dep = client.read_deployment_by_name(deployment)
    deadline = time.time() + timeout
    while time.time() < deadline:
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])))
        done = [r for r in runs if accept(r) and r.state is not None and r.state.is_final()]
        if done:
            return done[0]
        time.sleep(0.5)
    states = [(r.name, r.state.type if r.state else None, r.parameters) for r in runs]
    raise TimeoutError(f"no final run of {deployment} within {timeout:g} s: {states}")


def test_deployment_runs_on_a_process_worker(tmp_path, tmp_path_factory):
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    rhome = tmp_path / "refresh_home"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect_home"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}",
        "LUMINA_PROJECT_DIR": str(REPO),
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",  # the test's interval schedule fires within seconds
        "PREFECT_WORKER_QUERY_SECONDS": "1",  # the worker picks up each run within a second (default 10)
        # ~0.8 s of the server's start in a new database; nothing here reads a block (a user's server
        # registers them once per database: Prefect remembers it)
        "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "RAY_AUTH_MODE": "disabled",
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    started: list[subprocess.Popen] = []

    def spawn(name, *args):
        p = subprocess.Popen([PREFECT, *args], cwd=REPO, env=env, stdout=open(logs / f"{name}.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
        started.append(p)
        return p

    def finish(name, p, timeout=120) -> str:
        """The output of a `prefect` command spawned to run beside the test, which must have succeeded."""
        p.wait(timeout)
        out = (logs / f"{name}.log").read_text()
        assert p.returncode == 0, f"prefect {' '.join(p.args[1:])}:\n{out}"
        return out

    seed_prefect_db(tmp_path / "prefect.db", tmp_path_factory)  # migrated once per session: ~8 s less CPU
    try:
        server = spawn("server", "server", "start", "--host", "127.0.0.1", "--port", str(port))
        # while the server starts (seconds of one core's work): this process's imports and the source folder
        src, stage = _refresh_source(tmp_path)
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.schedules import IntervalSchedule
        from prefect.settings import PREFECT_API_URL, temporary_settings

        _wait_healthy(api, server)
        # docs/deployments.md's set-up lines, each as `prefect ...` runs it, in one interpreter
        # (tests/flows/prefect_commands_s57c.py): three fewer Prefect CLI imports (9.7 -> 5.1 s of CPU)
        setup = [["work-pool", "create", "lumina-process", "--type", "process"],
                 ["work-queue", "create", "gpu", "--pool", "lumina-process", "--limit", "1"],
                 ["gcl", "create", "lumina-catalog-writer", "--limit", "1"],
                 ["--no-prompt", "deploy", "--all"]]
        r = subprocess.run([sys.executable, "-m", "tests.flows.prefect_commands_s57c", *map(json.dumps, setup)],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"

        with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            names = {f"{client.read_flow(d.flow_id).name}/{d.name}" for d in client.read_deployments()}  # `prefect deployment ls`
            for dep in ("refresh/refresh", "curate/curate", "encode/encode", "train/train", "evaluate/evaluate", "data_to_model/data-to-model"):
                assert dep in names, names
            _clear_schedules(client, "refresh/refresh")  # the hourly cron must not fire mid-test
        spawn("worker", "worker", "start", "--pool", "lumina-process", "--limit", "1")

        # refresh: a first run by hand, then a change, then a run fired by a schedule
        # the phone text encoder (as the fault suite's chain): MiniLM's transformers imports and weights
        # were half of each refresh run's CPU, for captions nothing here reads (MiniLM: the demo tests)
        refresh_params = {"source": str(src), "home": str(rhome), "backend": "local", "live_manifests": LIVE,
                          "encode_options": {"text": "phone"}}
        watch = spawn("watch", "deployment", "run", "refresh/refresh", "--params", json.dumps(refresh_params), "--watch", "--watch-timeout", "300")
        with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            # `--watch` ends ~3 s after the run (it waits for straggler logs): the test goes on once the
            # run is final, and reads what `--watch` printed further down
            by_hand = _wait_for_run(client, "refresh/refresh", lambda r: not r.auto_scheduled, 360)
            assert by_hand.state.is_completed(), by_hand.state
            first_shards = _shard_state(rhome)
            assert first_shards
            _change_source(src, stage)
            refresh_dep = client.read_deployment_by_name("refresh/refresh")
            client.create_deployment_schedules(refresh_dep.id, [(IntervalSchedule(interval=timedelta(seconds=5)), True)],
                                               max_scheduled_runs=1, parameters=refresh_params)
            # the first run the schedule makes is the one this test needs: the schedule goes as soon as
            # the worker took it (cleared after that run ended, it had made a third, idle refresh: ~17 s)
            first = _started_run(client, "refresh/refresh", lambda r: r.auto_scheduled and r.parameters.get("home") == str(rhome), 300)
            _clear_schedules(client, "refresh/refresh")
            _drop_queued_runs(client, "refresh/refresh", keep=first.id)
            scheduled = _wait_for_run(client, "refresh/refresh", lambda r: r.id == first.id, 300)
            out = finish("watch", watch, 60)
            assert "Completed" in out and str(by_hand.id) in out, out
            assert scheduled.state.is_completed(), scheduled.state
            data = [a.data for a in client.read_artifacts(artifact_filter=_artifact_of(scheduled.id, "refresh-counts-image-src"))]
            assert len(data) == 1, data
            rows = json.loads(data[0]) if isinstance(data[0], str) else data[0]
            refreshed = {row["what"]: row["count"] for row in rows}
            trained = _wait_for_run(client, "train/train", lambda r: True, 300)
            assert trained.state.is_completed(), trained.state
            assert trained.parameters["manifest"] == "refresh-live@v2" and trained.parameters["home"] == str(rhome)

            # cancelling a train run mid-training: the worker sends SIGTERM, training checkpoints
            cancel_dir = tmp_path / "cancelled_run"
            long = {**TINY_TRAIN, "steps": 100000, "max_seconds": 300, "log_every": 1, "out_dir": str(cancel_dir)}
            train_dep = client.read_deployment_by_name("train/train")
            running = client.create_flow_run_from_deployment(
                train_dep.id, parameters={"manifest": "refresh-live@v2", "home": str(rhome), "options": long})
            deadline = time.time() + 240
            while _metric_rows(cancel_dir) < 3 and time.time() < deadline:
                time.sleep(0.5)
            assert _metric_rows(cancel_dir) >= 3, client.read_flow_run(running.id).state
            # what `prefect flow-run cancel ID` does (prefect/cli/flow_run.py), without its interpreter's
            # seconds of imports while training runs on: the worker sees Cancelling and sends SIGTERM
            from prefect.client.schemas.objects import StateType
            from prefect.client.schemas.responses import SetStateStatus
            from prefect.states import State

            asked = client.set_flow_run_state(flow_run_id=running.id, state=State(type=StateType.CANCELLING))
            assert asked.status != SetStateStatus.ABORT, asked.details
            cancelled = _wait_for_run(client, "train/train", lambda r: r.id == running.id, 120)
    finally:
        for p in reversed(started):
            _stop(p, signal.SIGINT if p is not started[0] else signal.SIGTERM)
        for name in ("server", "worker"):
            if (logs / f"{name}.log").exists():
                print(f"--- {name} log (tail) ---\n" + (logs / f"{name}.log").read_text()[-3000:])
    assert all(p.poll() is not None for p in started)

    # the scheduled refresh curated exactly the 5 new inputs and the one with a new caption
    assert refreshed["inputs_to_curate"] == 6 and refreshed["new_samples"] == 6, refreshed
    assert refreshed["removed"] == 2 and refreshed["superseded"] == 1, refreshed
    after = _shard_state(rhome)
    assert all(after[name] == state for name, state in first_shards.items()), "a shard of the first refresh was rewritten"
    assert len(after) == len(first_shards) + 1
    con = duckdb.connect(str(rhome / "catalog.duckdb"), read_only=True)
    try:
        runs = dict(con.execute("SELECT run_id, status FROM runs WHERE flow_name = 'refresh'").fetchall())
        assert sorted(runs.values()) == ["completed", "completed"]
        second = con.execute("SELECT run_id FROM runs WHERE flow_name = 'refresh' ORDER BY started_at DESC LIMIT 1").fetchone()[0]
        assert con.execute("SELECT count(*) FROM samples WHERE first_run = ?", [second]).fetchone()[0] == 6
        status = dict(con.execute("SELECT status, count(*) FROM samples GROUP BY status").fetchall())
        assert status.get("removed") == 2 and status.get("superseded") == 1 and status["accepted"] == 23, status
        removed = con.execute("SELECT count(*) FROM source_index WHERE status = 'removed' AND removed_at IS NOT NULL").fetchone()[0]
        assert removed == 4  # two images and their captions
        assert con.execute("SELECT version, num_members FROM manifests WHERE name = 'refresh-live' ORDER BY version").fetchall() == [(1, 20), (2, 23)]
        ckpt = con.execute("SELECT manifest, manifest_version FROM checkpoints ORDER BY created_at").fetchall()
        assert ckpt == [("refresh-live", 2)] * 2, ckpt
        # the cancelled run: Cancelled in Prefect, 'cancelled' in the catalog, its checkpoint registered and resumable
        stopped_at = con.execute("SELECT step, uri FROM checkpoints WHERE uri LIKE ?", [f"{cancel_dir}%"]).fetchall()
        assert len(stopped_at) == 1 and stopped_at[0][0] >= 3 and (Path(stopped_at[0][1]) / "train_state.json").exists()
        assert con.execute("SELECT status FROM runs WHERE flow_name = 'train' ORDER BY started_at").fetchall() == [("completed",), ("cancelled",)]
    finally:
        con.close()
    assert cancelled.state.is_cancelled(), cancelled.state
    assert f"at step {stopped_at[0][0]}" in (cancelled.state.message or ""), cancelled.state.message


def _metric_rows(run_dir: Path) -> int:
    try:
        return max(0, (run_dir / "metrics.csv").read_text().count("\n") - 1)
    except FileNotFoundError:
        return 0


def _artifact_of(flow_run_id, key: str):
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    return ArtifactFilter(key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
