"""Ctrl-C during a Ray Data actor-pool stage: KeyboardInterrupt reaches the caller, and once the
caller shut Ray down, nothing starts it again. A first watch for dying clusters iterated Ray Data in
a helper thread; after a Ctrl-C that thread went on, and Ray Data's auto-init started a new Ray
instance while the process exited ("SIGTERM handler is not set because current thread is not the
main thread"). contracts.ray_runtime.gcs_watched keeps the iteration on the main thread.

The stage runs on the suite's shared private Ray cluster (tests/shared_ray_cluster.py), joined: a local
Ray of its own cost a start and a stop; and Ctrl-C comes once an actor runs a batch, where a fixed 8 s
timer waited for Ray's start."""

from __future__ import annotations

import os
import threading
import time

import pytest

from contracts import ray_runtime as rt
from preprocess.runner import run_stage
from preprocess.stage import Stage
from tests.shared_ray_cluster import ray_cluster_group


class WaitsForFlag(Stage):
    """Says it runs (the ``started`` file), then blocks each batch until the flag file exists (at most ``cap_s``)."""

    name = "waits-for-flag"
    batch_size = 1
    execution = "actors"

    def __init__(self, flag: str, started: str, cap_s: float = 20.0):
        self.flag, self.started, self.cap_s = flag, started, cap_s

    def process(self, batch: list) -> list:
        open(self.started, "a").close()
        deadline = time.monotonic() + self.cap_s
        while not os.path.exists(self.flag) and time.monotonic() < deadline:
            time.sleep(0.05)
        return batch


@ray_cluster_group
def test_ctrl_c_in_an_actor_pool_stage_stops_it_and_ray_stays_down(tmp_path, monkeypatch, ray_cluster):
    import signal

    monkeypatch.setattr(rt, "GCS_PROBE_EVERY_S", 0.1)  # the watch runs, and finds the GCS alive
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # pytest-xdist's workers ignore Ctrl-C
    try:
        _interrupt_an_actor_pool_stage(tmp_path, ray_cluster)
    finally:
        signal.signal(signal.SIGINT, previous)


def _ctrl_c_once(started, cancelled: threading.Event) -> None:
    """Ctrl-C to the main thread once an actor runs a batch (at most 120 s on)."""
    import _thread

    deadline = time.monotonic() + 120
    while not started.exists() and not cancelled.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not cancelled.is_set():
        time.sleep(0.2)  # the driver back in its wait on the rows
    if not cancelled.is_set():  # a stage that ended meanwhile gets no Ctrl-C: it would end the session
        _thread.interrupt_main()


def _interrupt_an_actor_pool_stage(tmp_path, address):
    import ray

    flag, started = tmp_path / "release", tmp_path / "started"
    rt.ensure_ray(address=address)  # joined by address, not $RAY_ADDRESS: Ray's auto-init would start a new instance
    threads_before = set(threading.enumerate())
    cancelled = threading.Event()
    ctrl_c = threading.Thread(target=_ctrl_c_once, args=(started, cancelled), daemon=True)
    ctrl_c.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_stage(WaitsForFlag(str(flag), str(started)), [1, 2], backend="ray", num_actors=1)
    finally:
        cancelled.set()
        ctrl_c.join()
        flag.touch()
        ray.shutdown()  # as the caller does (release_local_ray leaves a joined cluster's connection up)
    time.sleep(3)  # a leftover iterating thread re-initialised Ray within a second or two
    assert not ray.is_initialized(), "something started Ray again after the stage was interrupted"
    left = [t.name for t in set(threading.enumerate()) - threads_before if t.is_alive() and "lumina" in t.name]
    assert not left, left
