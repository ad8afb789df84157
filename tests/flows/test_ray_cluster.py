"""Cluster mode: `lumina curate` with RAY_ADDRESS joins a running Ray cluster instead of starting
its own. The test joins the suite's shared private cluster (`ray start --head` on 127.0.0.1 with its
own temp dir and ports: tests/shared_ray_cluster.py), runs the command, and reads the cluster's job
table and task events (GCS) for the command's driver and its curation tasks. A cluster of its own
cost about 5 s of CPU to start and stop; the job table tells this command's driver from the other
tests' by its entrypoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ray_processes import ray_test_env
from tests.shared_ray_cluster import ray_cluster_group

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.slow, ray_cluster_group]

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


def test_curate_runs_on_a_running_ray_cluster(tmp_path, ray_cluster):
    from preprocess.image.demo_corpus import write_demo_corpus

    src = write_demo_corpus(tmp_path / "corpus", num_digits=6, num_shapes=0).root / "digits"
    env = ray_test_env()
    curate = subprocess.run([str(BIN / "lumina"), "curate", str(src), "--home", str(tmp_path / "home"), "--json"],
                            cwd=REPO, env={**env, "RAY_ADDRESS": ray_cluster}, capture_output=True, text=True, timeout=300)
    assert curate.returncode == 0, curate.stdout + curate.stderr
    assert json.loads(curate.stdout)["counts"]["accepted"] == 6
    probe = subprocess.run([sys.executable, "-c", PROBE, ray_cluster], cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=120)
    assert probe.returncode == 0, probe.stderr[-3000:]
    seen = json.loads(next(line for line in probe.stdout.splitlines() if line.startswith("PROBE "))[6:])

    # this command's driver (the shared cluster also holds other tests' jobs): by its entrypoint and pid
    drivers = [j for j in seen["jobs"] if "lumina" in j["entrypoint"] and "curate" in j["entrypoint"]
               and str(src) in j["entrypoint"]]
    assert drivers, seen["jobs"]  # the command's driver joined this cluster (no private Ray of its own)
    job_ids = {j["job"] for j in drivers}
    names = [name for job, name in seen["tasks"] if job in job_ids]
    assert "_process_batch" in names, seen["tasks"]  # the analysis and shard-writing tasks ran there
