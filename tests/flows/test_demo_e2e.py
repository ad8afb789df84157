"""The demo end to end at a reduced budget, run twice: the catalog must not grow the second time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.planted import EXPECTED

REPO = Path(__file__).resolve().parents[2]
LUMINA = str(Path(sys.executable).parent / "lumina")
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("prefect_server")]  # one worker: they share its Prefect server



def _demo_twice(home: Path, tmp_path: Path, api_url: str) -> dict:
    """Both runs in one process (tests/flows/demo_twice.py): the second pays no new interpreter's imports."""
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect_home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_API_URL": api_url}
    out = tmp_path / "runs.json"
    args = [sys.executable, "-m", "tests.flows.demo_twice", str(home), str(REPO / "configs" / "smoke.yaml"), str(out)]
    r = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    return json.loads(out.read_text())


def test_demo_runs_end_to_end_and_is_idempotent(tmp_path, prefect_api_url):
    home = tmp_path / "home"
    runs = _demo_twice(home, tmp_path, prefect_api_url)
    first, second, (counts1, counts2) = runs["first"], runs["second"], runs["counts"]
    m = first["metrics"]
    assert m["num_generated"] == 20  # 2 per class (smoke.yaml), scored by a judge that can tell digits apart
    assert m["judge_test_accuracy"] > 0.6 and 0.0 < m["heldout_fm_loss"] < 3.0
    assert 0.0 <= m["class_accuracy"] <= 1.0 and m["chance_accuracy"] == pytest.approx(0.1)
    # shapes: 2 prompts per shape, and a reader that names the real held-out shapes
    assert m["num_shape_prompts"] == 6 and m["shape_reader_accuracy"] > 0.9 and 0.0 <= m["shape_all_accuracy"] <= 1.0
    assert Path(first["grid"]).exists() and Path(first["checkpoint"], "model.safetensors").exists()
    assert {k: counts2[k] for k in ("samples", "verdicts", "shards", "encodings")} == {k: counts1[k] for k in ("samples", "verdicts", "shards", "encodings")}
    assert counts2["runs"] == counts1["runs"] + 1 and counts2["checkpoints"] == counts1["checkpoints"] + 1
    assert second["curation"] == first["curation"]

    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        planted = json.loads((home / "source" / "image" / "README.json").read_text())["planted"]
        assert set(planted) == set(EXPECTED)
        total = con.execute("SELECT count(*) FROM samples").fetchone()[0]
        assert total == 150 + 300 + len(planted)  # every input is in samples, none twice
        src = home / "source" / "image"
        for kind, rel in planted.items():
            status, reason_kind = EXPECTED[kind]
            row = con.execute("SELECT status, reason FROM samples WHERE source_uri = ?", [str((src / rel).resolve())]).fetchone()
            assert row is not None, rel
            assert row[0] == status and row[1].split(":")[0] == reason_kind, (rel, row)
    finally:
        con.close()

    # The image demo's own evaluation settings (guidance 6) reach the evaluate step; smoke.yaml sets none.
    from preprocess.image.demo import DEMO
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        params = json.loads(con.execute("SELECT parameters FROM runs WHERE run_id = ?", [second["run_id"]]).fetchone()[0])
    finally:
        con.close()
    assert params["evaluation"]["cfg_scale"] == DEMO["eval_options"]["cfg_scale"] == 6.0
    # ... and the settings it left to their defaults are recorded too: latest_metrics reads them all
    assert {k: params["evaluation"][k] for k in ("solver", "shift", "seed", "max_heldout")} == {
        "solver": "euler", "shift": 1.0, "seed": 0, "max_heldout": 4096}
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        settings = con.execute("SELECT DISTINCT sampling_steps, solver, cfg_scale, seed FROM latest_metrics "
                               "WHERE split = 'holdout'").fetchall()
    finally:
        con.close()
    assert settings == [(params["evaluation"]["steps"], "euler", 6.0, 0)], settings

    # The catalog answers from the shell, read-only.
    r = subprocess.run([LUMINA, "catalog", "sql", "--catalog", str(home / "catalog.duckdb"), "--json",
                        "SELECT status, count(*) AS n FROM samples GROUP BY status ORDER BY status"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert {row["status"] for row in rows} == {"accepted", "rejected", "quarantined"}
