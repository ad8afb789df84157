"""A stage's catalog run beats while it runs: a run whose owner is on another host (a container's
hostname, a catalog shared by two machines) is judged by its heartbeat alone, and no stage beat, so
the next run on that catalog marked a live stage abandoned once its start was 30 minutes old."""
import time
from datetime import timedelta

from catalog import Catalog
from catalog.db import utcnow
from contracts.layout import Workspace
from flows import steps


def test_a_stage_owned_elsewhere_stays_running_while_it_beats(tmp_path, monkeypatch):
    monkeypatch.setattr(steps, "HEARTBEAT_EVERY_S", 0.05, raising=False)
    ws = Workspace.at(tmp_path / "home")
    with steps.catalog_run(ws, "curate", {}) as run_id:
        with Catalog.open(ws.catalog) as cat:  # as another machine sees it: an owner elsewhere, started an hour ago
            cat.sql("UPDATE runs SET owner_host = 'another-host', heartbeat_at = ? WHERE run_id = ?",
                    [utcnow() - timedelta(hours=1), run_id])
        deadline = time.monotonic() + 10  # a beat is due every 0.05 s; a loaded machine may take longer
        while time.monotonic() < deadline:
            time.sleep(0.1)
            with Catalog.open(ws.catalog, read_only=True) as cat:
                (beat,), = cat.sql("SELECT heartbeat_at FROM runs WHERE run_id = ?", [run_id])[1]
            if beat > utcnow() - timedelta(minutes=1):
                break
        with Catalog.open(ws.catalog) as cat:
            assert cat.mark_abandoned_runs() == []
            (status, beat), = cat.sql("SELECT status, heartbeat_at FROM runs WHERE run_id = ?", [run_id])[1]
        assert status == "running" and beat > utcnow() - timedelta(minutes=1), (status, beat)
    with Catalog.open(ws.catalog, read_only=True) as cat:
        assert cat.sql("SELECT status FROM runs WHERE run_id = ?", [run_id])[1] == [("completed",)]
