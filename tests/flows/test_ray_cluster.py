"""Cluster mode: `lumina curate` with RAY_ADDRESS joins a running Ray cluster instead of starting
its own. The test starts `ray start --head` on 127.0.0.1 with its own temp dir and ports, runs the
command, reads the cluster's job table and task events (GCS) for the command's driver and its
curation tasks, and always stops that cluster (only its own processes)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.ray_processes import cluster_pids, kill, ray_test_env, start_blocking_head

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow

# Reads the cluster's GCS (no dashboard needed): jobs with their driver's entrypoint, and task names per job.
PROBE = """
import json, sys, ray
from ray._private import state
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
jobs = [{"job": j["JobID"], "pid": j["DriverPid"], "entrypoint": j["Entrypoint"]} for j in state.jobs()]
tasks = [(e.job_id.hex(), e.task_info.name) for e in state.state._get_all_task_events() if e.HasField("task_info")]
print("PROBE " + json.dumps({"jobs": jobs, "tasks": tasks}))
ray.shutdown()
"""


def _stop_cluster(head: subprocess.Popen, temp_dir: str) -> None:
    """`ray start --block` stops its node on SIGTERM; whatever is left of this cluster is killed by pid.
    (Never `ray stop`: it stops every Ray on the machine.)"""
    if head.poll() is None:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(30)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait(5)
    deadline = time.time() + 10
    while cluster_pids(temp_dir) and time.time() < deadline:
        time.sleep(0.5)
    kill(cluster_pids(temp_dir))


def test_curate_runs_on_a_running_ray_cluster(tmp_path):
    from preprocess.image.demo_corpus import write_demo_corpus

    src = write_demo_corpus(tmp_path / "corpus", num_digits=6, num_shapes=0).root / "digits"
    temp_dir = tempfile.mkdtemp(prefix="lray", dir="/tmp")  # short: Ray's socket paths have a length limit
    env = ray_test_env()
    head, address = start_blocking_head(temp_dir, tmp_path / "ray.log", env, REPO)
    try:
        curate = subprocess.run([str(BIN / "lumina"), "curate", str(src), "--home", str(tmp_path / "home"), "--json"],
                                cwd=REPO, env={**env, "RAY_ADDRESS": address}, capture_output=True, text=True, timeout=300)
        assert curate.returncode == 0, curate.stdout + curate.stderr
        assert json.loads(curate.stdout)["counts"]["accepted"] == 6
        probe = subprocess.run([sys.executable, "-c", PROBE, address], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert probe.returncode == 0, probe.stderr[-3000:]
        seen = json.loads(next(line for line in probe.stdout.splitlines() if line.startswith("PROBE "))[6:])
    finally:
        _stop_cluster(head, temp_dir)
        print((tmp_path / "ray.log").read_text()[-2000:])
        shutil.rmtree(temp_dir, ignore_errors=True)
    assert not cluster_pids(temp_dir), "a process of the test's Ray cluster survived"

    drivers = [j for j in seen["jobs"] if "lumina" in j["entrypoint"] and "curate" in j["entrypoint"]]
    assert drivers, seen["jobs"]  # the command's driver joined this cluster (no private Ray of its own)
    job_ids = {j["job"] for j in drivers}
    names = [name for job, name in seen["tasks"] if job in job_ids]
    assert "_process_batch" in names, seen["tasks"]  # the analysis and shard-writing tasks ran there
