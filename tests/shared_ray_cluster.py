"""One private Ray cluster for the tests that join a running cluster and do not kill it.

Each of them used to start a local Ray of its own (ray.init in the test, `lumina train --launcher
ray` in a subprocess, a `ray start --head --block` of its own), about 9 s of a 2-core machine every
time, and stop it again. Now they join one `ray start --head` (127.0.0.1, its own temp dir and ports)
through RAY_ADDRESS or --ray-address: the tests are grouped on one xdist worker (`RAY_GROUP`), the
cluster starts with the first and is stopped after the last of a row of them (an idle cluster takes
CPU from the tests that run beside it). The fixtures (`ray_cluster`, `ray_address`) and the hook
that stops it are in tests/conftest.py, so any folder's tests can join.
tests/training/test_ray_launcher_cluster_lost.py and test_ray_node_lost.py kill their cluster and
keep one of their own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.ray_processes import cluster_pids, free_port, kill

REPO = Path(__file__).resolve().parents[1]
RAY_GROUP = "training-ray-cluster"
ray_cluster_group = pytest.mark.xdist_group(RAY_GROUP)


# `ray start --head` processes the tests never use, which poll while the cluster idles between tests:
# the autoscaler's monitor (a fixed one-node cluster) and the log monitor (every driver here joins with
# log_to_driver off, as lumina's ensure_ray does, so nothing reads what it forwards)
IDLE_PROCESSES_LEFT_OUT = ("--no-monitor", "--include-log-monitor=false")


class _Cluster:
    address: str | None = None
    temp_dir: str | None = None

    def start(self) -> str:
        if self.address is None:
            self.temp_dir = tempfile.mkdtemp(prefix="ltr", dir="/tmp")  # short: Ray's socket paths have a length limit
            port = free_port()
            env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "HF_HUB_OFFLINE": "1",
                   "TRANSFORMERS_OFFLINE": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "OMP_NUM_THREADS": "1",
                   "PYTHONPATH": str(REPO)}
            env.pop("RAY_ADDRESS", None)
            ports = [f"--{name}={free_port()}" for name in ("ray-client-server-port", "dashboard-agent-listen-port",
                                                             "dashboard-agent-grpc-port", "metrics-export-port",
                                                             "runtime-env-agent-port")]
            # returns once the head is up; its processes stay in the new session
            proc = subprocess.run(
                [str(Path(sys.executable).parent / "ray"), "start", "--head", "--node-ip-address=127.0.0.1",
                 f"--port={port}", f"--temp-dir={self.temp_dir}", "--num-cpus=3", "--include-dashboard=false",
                 "--disable-usage-stats", *IDLE_PROCESSES_LEFT_OUT, *ports],
                cwd=REPO, env=env, capture_output=True, text=True, timeout=180, start_new_session=True)
            if proc.returncode != 0:
                self.stop()
                raise RuntimeError(f"ray start failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
            self.address = f"127.0.0.1:{port}"
        return self.address

    def stop(self) -> None:
        if self.temp_dir is None:
            return
        kill(cluster_pids(self.temp_dir))
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        self.address = self.temp_dir = None


CLUSTER = _Cluster()


def uses_cluster(item) -> bool:
    return item is not None and "ray_cluster" in getattr(item, "fixturenames", ())
