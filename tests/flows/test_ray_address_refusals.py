"""Ray cluster mistakes a user makes, each one line (a walkthrough against a Ray head of its own):
--workers beyond the cluster's CPUs waited forever, an address where no GCS answers was a traceback,
--local with --ray-address waited for an address it never used."""

from __future__ import annotations

import time

import pytest


def test_more_ray_train_workers_than_the_cluster_has_cpus_is_refused(monkeypatch):
    import ray

    from training.ray_launcher import check_cluster_fits

    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0, "memory": 1e9})
    check_cluster_fits(2)
    with pytest.raises(ValueError) as e:
        check_cluster_fits(4)
    assert str(e.value) == ("--workers 4 needs 4 CPUs (one per Ray Train worker); the Ray cluster has 2: give --workers 2 "
                            "or fewer, or add nodes")


def test_an_address_where_no_gcs_answers_is_no_ray_cluster(monkeypatch):
    import ray

    import contracts.ray_runtime as rt

    def refuse(**kwargs):
        raise ConnectionError("Failed to connect to Ray cluster at 10.0.0.1:10001\nmore")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    monkeypatch.setattr(rt, "check_ray_address", lambda address, **kw: "10.0.0.1")
    with pytest.raises(rt.NoRayCluster) as e:
        rt.ensure_ray("10.0.0.1:10001")
    assert str(e.value).startswith("no Ray cluster answers at 10.0.0.1:10001 (Failed to connect to Ray cluster at "
                                   "10.0.0.1:10001): give the head's GCS address")


@pytest.mark.parametrize("local", [["--local"], ["--backend", "local"], ["--backend=local"]])
def test_local_and_a_ray_address_are_refused_at_once(tmp_path, capsys, local, monkeypatch):
    from flows.cli import main

    # main() sets RAY_ADDRESS for the command: setenv records it absent, so the teardown deletes it
    # (delenv of an absent name records nothing, and the address leaked into later tests)
    monkeypatch.setenv("RAY_ADDRESS", "")
    started = time.monotonic()
    assert main(["curate", str(tmp_path), "--modality", "image", "--home", str(tmp_path / "h"), *local,
                 "--ray-address", "127.0.0.1:9"]) == 2
    assert time.monotonic() - started < 10  # not the 15 s wait for an address it would not use (10: a loaded host)
    assert capsys.readouterr().err.strip().splitlines() == [
        "lumina curate: error: --ray-address 127.0.0.1:9 and --local exclude each other: --local runs in this process "
        "without Ray"]
    assert not (tmp_path / "h").exists()


def test_the_ray_address_of_a_command_does_not_outlive_the_test():
    import os

    assert os.environ.get("RAY_ADDRESS") in (None, "")  # the test above ran first in this file
