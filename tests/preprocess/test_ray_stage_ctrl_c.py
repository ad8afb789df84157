"""Ctrl-C during a Ray Data actor-pool stage: KeyboardInterrupt reaches the caller, and once the
caller shut Ray down, nothing starts it again. A first watch for dying clusters iterated Ray Data in
a helper thread; after a Ctrl-C that thread went on, and Ray Data's auto-init started a new Ray
instance while the process exited ("SIGTERM handler is not set because current thread is not the
main thread"). contracts.ray_runtime.gcs_watched keeps the iteration on the main thread."""

from __future__ import annotations

import os
import threading
import time

import pytest

from contracts import ray_runtime as rt
from preprocess.runner import run_stage
from preprocess.stage import Stage


class WaitsForFlag(Stage):
    name = "waits-for-flag"
    batch_size = 1
    execution = "actors"

    def __init__(self, flag: str, cap_s: float = 20.0):
        self.flag, self.cap_s = flag, cap_s

    def process(self, batch: list) -> list:
        deadline = time.monotonic() + self.cap_s
        while not os.path.exists(self.flag) and time.monotonic() < deadline:
            time.sleep(0.05)
        return batch


def test_ctrl_c_in_an_actor_pool_stage_stops_it_and_ray_stays_down(tmp_path, monkeypatch):
    import signal

    monkeypatch.setattr(rt, "GCS_PROBE_EVERY_S", 0.1)  # the watch runs, and finds the GCS alive
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # pytest-xdist's workers ignore Ctrl-C
    try:
        _interrupt_an_actor_pool_stage(tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_an_actor_pool_stage(tmp_path):
    import _thread

    import ray

    flag = tmp_path / "release"
    rt.ensure_ray(num_cpus=2)
    threads_before = set(threading.enumerate())
    timer = threading.Timer(8.0, _thread.interrupt_main)  # Ctrl-C once the actors run
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_stage(WaitsForFlag(str(flag)), [1, 2], backend="ray", num_actors=1)
    finally:
        timer.cancel()
        flag.touch()
        rt.release_local_ray()
    time.sleep(3)  # a leftover iterating thread re-initialised Ray within a second or two
    assert not ray.is_initialized(), "something started Ray again after the stage was interrupted"
    left = [t.name for t in set(threading.enumerate()) - threads_before if t.is_alive() and "lumina" in t.name]
    assert not left, left
