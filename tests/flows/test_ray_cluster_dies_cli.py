"""`lumina curate --ray-address ADDR` whose cluster stops answering mid-stage: one line naming the
address and what to do, exit 2 (as NoRayCluster), and the catalog run marked failed. Before, Ray's
core worker ended the process after its 60 s GCS timeout: exit 1, no message of ours, and the run
stayed `running` for ever.

The cluster is the suite's shared private Ray cluster (tests/shared_ray_cluster.py; a local Ray of this
test's own cost a start and a stop), joined through its GCS address as a user's cluster would be; its
death is faked (the watch's probe answers "unreachable", and gives up at once)."""

from __future__ import annotations

import pytest

from contracts import ray_runtime as rt
from tests.shared_ray_cluster import ray_cluster_group


@pytest.fixture
def joined_ray(ray_cluster):
    """This process joined to the shared cluster for the test, and left after it (a driver still joined
    once the cluster stopped is ended by Ray's core worker 60 s later, pytest with it)."""
    import ray

    rt.ensure_ray(address=ray_cluster)
    yield
    ray.shutdown()


@ray_cluster_group
def test_curate_on_a_cluster_that_dies_says_so_and_fails_its_run(joined_ray, monkeypatch, tmp_path, capsys):
    import ray

    from catalog import Catalog
    from flows.cli import main
    from preprocess.image.demo_corpus import write_demo_corpus

    src = write_demo_corpus(tmp_path / "corpus", num_digits=6, num_shapes=0).root / "digits"
    gcs = ray.get_runtime_context().gcs_address
    monkeypatch.setenv("RAY_ADDRESS", gcs)  # main() sets it from --ray-address; restored after the test
    monkeypatch.setattr(rt, "_started_here", False)  # joined, not started: a user's cluster
    monkeypatch.setattr(rt, "GCS_PROBE_EVERY_S", 0.001)  # probe as soon as no task has finished
    monkeypatch.setattr(rt, "GCS_LOST_AFTER_S", 0.0)
    monkeypatch.setattr(rt._GcsWatch, "_answers", lambda self: False)  # the head died mid-stage

    rc = main(["curate", str(src), "--home", str(tmp_path / "home"), "--ray-address", gcs])

    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert rc == 2, err
    assert errors == [f"lumina curate: error: the Ray cluster at {gcs} stopped answering mid-stage (unreachable "
                      "for 0 s): restart the cluster and run the same command again: stages are resumable (finished "
                      "work is reused)"], err
    assert "Traceback" not in err, err
    with Catalog.open(tmp_path / "home" / "catalog.duckdb", read_only=True) as cat:
        _, rows = cat.sql("SELECT flow_name, status, ended_at IS NOT NULL FROM runs")
    assert rows == [("curate", "failed", True)]
