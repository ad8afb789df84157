"""`lumina` after a Ray cluster died mid-stage: its one line, then exit 2 at once. Ray's atexit
shutdown spent 15-20 s flushing to the dead cluster and at times ended the process with exit 1
after the line (4 of 7 runs against a killed head). Ray's shutdown is stood in for by an atexit
callback that sleeps and then exits 1."""

from __future__ import annotations

import os
import subprocess
import sys
import time

SCRIPT = """
import atexit, os, sys, time
import flows.cli as cli
from contracts.ray_runtime import RayClusterLost

def dying_shutdown():  # ray.shutdown against a dead GCS: a long flush, then at times exit 1
    time.sleep(20)
    os._exit(1)

def lost(argv):
    raise RayClusterLost("the Ray cluster at 127.0.0.1:1 stopped answering mid-stage")

atexit.register(dying_shutdown)
cli.COMMANDS["encode"] = ("encode", lost)
sys.argv = ["lumina", "encode"]
sys.exit(cli.main())
"""


def test_a_lost_cluster_exits_2_at_once_after_its_line():
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2, done.stderr
    assert time.monotonic() - start < 15, "waited for the atexit shutdown"
    assert done.stderr.strip().splitlines() == [
        "lumina encode: error: the Ray cluster at 127.0.0.1:1 stopped answering mid-stage"], done.stderr
