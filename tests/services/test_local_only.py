"""Services the pipeline starts listen on 127.0.0.1 only (issue 9, part 4)."""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Starts Ray the way the stages do, runs a task, and lists every listening TCP socket of the
# processes Ray started (ss -ltnpH), with the process name.
RAY_LISTENERS = r"""
import json, os, re, subprocess, psutil, ray
from contracts.ray_runtime import ensure_ray, release_local_ray
ensure_ray(num_cpus=1)
assert ray.get(ray.remote(lambda: 1).remote()) == 1
# workers inherit the offline environment, with idle OpenMP threads sleeping (they share the cores)
policies = [ray.get(ray.remote(lambda: (os.environ.get("OMP_WAIT_POLICY"), os.environ.get("HF_HUB_OFFLINE"))).remote())]
pids = {p.pid for p in psutil.Process().children(recursive=True)} | {os.getpid()}
out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
found = []
for line in out.splitlines():
    fields = line.split()
    for name, pid in re.findall(r'\("([^"]+)",pid=(\d+),', line):
        if int(pid) in pids:
            found.append([fields[3], name])
released = release_local_ray()  # what train_step calls: the private instance goes, its servers with it
print(json.dumps({"listeners": found, "policies": policies, "released": released, "after": ray.is_initialized(),
                  "again": release_local_ray()}))
"""


def _is_loopback(local_address: str) -> bool:
    host = local_address.rsplit(":", 1)[0].strip("[]")
    if host in ("*", ""):
        return False
    ip = ipaddress.ip_address(host)
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def test_loopback_detection():
    assert _is_loopback("127.0.0.1:80") and _is_loopback("[::1]:80") and _is_loopback("[::ffff:127.0.0.1]:80")
    assert not any(_is_loopback(a) for a in ("0.0.0.0:80", "*:80", "[::]:80", "192.0.2.2:80"))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2) to list listening sockets")
def test_ray_started_by_the_pipeline_listens_on_loopback_only():
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("RAY_ADDRESS", "LUMINA_RAY_NODE_IP", "LUMINA_RAY_DASHBOARD", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER",
                        "OMP_WAIT_POLICY")}
    env.update(PYTHONPATH=str(REPO), RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", RAY_LISTENERS], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    listeners = report["listeners"]
    assert report["policies"] == [["PASSIVE", "1"]]
    assert (report["released"], report["after"], report["again"]) == (True, False, False)
    names = {name for _, name in listeners}
    assert {"gcs_server", "raylet"} <= names, listeners  # the check saw Ray's own servers
    exposed = [(addr, name) for addr, name in listeners if not _is_loopback(addr)]
    assert exposed == [], f"Ray sockets beyond 127.0.0.1: {exposed}"
    assert not any(addr.endswith(":8265") for addr, _ in listeners)  # no dashboard unless asked
