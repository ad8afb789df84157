"""Finding and stopping the processes of a Ray cluster a test started for itself (never `ray stop`:
it stops every Ray on the machine)."""

from __future__ import annotations

import os
import re
import signal
import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_GCS_PORT = re.compile(r"--gcs_server_port=(\d+)$|--gcs-address=\S+:(\d+)$")


def cluster_pids(temp_dir: str, *roots: int) -> set[int]:
    """``roots`` (e.g. the head's `ray start`), every process naming the cluster's temp dir (GCS,
    raylet, agents), every process under them (the workers, renamed `ray::...`), and the Ray Client
    server (`python -m ray.util.client.server --address=HOST:GCS_PORT`, which names neither; a
    `ray start` without --block leaves it to init, and it lived on for about a minute after a kill)."""
    import psutil

    pids, cmdlines = set(roots), {}
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdlines[p.info["pid"]] = p.info["cmdline"] or []
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    ports = set()
    for pid, cmdline in cmdlines.items():
        if any(temp_dir in part for part in cmdline):
            pids.add(pid)
            ports |= {m[1] or m[2] for part in cmdline if (m := _GCS_PORT.match(part))}
    for pid, cmdline in cmdlines.items():
        if "ray.util.client.server" in cmdline and any(
                part.startswith("--address=") and part.rsplit(":", 1)[-1] in ports for part in cmdline):
            pids.add(pid)
    for pid in list(pids):
        try:
            pids |= {c.pid for c in psutil.Process(pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            continue
    return pids


def kill(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def ray_test_env(**extra: str) -> dict[str, str]:
    """This process's environment for a private Ray cluster: offline, no usage stats or auth, one
    thread a process, Ray's loopback mode (every Ray process on 127.0.0.1), no RAY_ADDRESS of ours."""
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "OMP_NUM_THREADS": "1",
           "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", **extra}
    env.pop("RAY_ADDRESS", None)
    return env


def start_blocking_head(temp_dir: str, log_path, env: dict[str, str], cwd) -> tuple["subprocess.Popen", str]:
    """`ray start --head --block` on 127.0.0.1 (2 CPUs, its own temp dir and free ports, no dashboard),
    in a session of its own, its output in ``log_path``: (the process, the cluster's address)."""
    import subprocess
    import sys
    from pathlib import Path

    port = free_port()
    ports = [f"--{name}={free_port()}" for name in ("ray-client-server-port", "dashboard-agent-listen-port",
                                                     "dashboard-agent-grpc-port", "metrics-export-port",
                                                     "runtime-env-agent-port")]
    head = subprocess.Popen(
        [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
         f"--port={port}", f"--temp-dir={temp_dir}", "--num-cpus=2", "--include-dashboard=false",
         "--disable-usage-stats", *ports],
        cwd=cwd, env=env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    return head, f"127.0.0.1:{port}"
