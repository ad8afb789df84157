"""`lumina demo --modality multiview` at a smoke budget, run twice: every planted bad input is in
the catalog with its status and reason, the metrics and renders exist, and the second run adds
no sample, verdict, shard or encoding rows; nor does a third after its shards were deleted (the
cached curation is redone). The runs go through the CLI's main in one process
(tests/multiview/demo_twice.py), so the second pays only for what really runs again. Whether the
metrics reach above chance is tested without training in test_metrics.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.multiview.expected import EXPECTED

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("prefect_server")]  # one worker: they share its Prefect server
TABLES = ("samples", "verdicts", "shards", "encodings", "checkpoints")


def _demo_twice(home: Path, tmp_path: Path, api_url: str) -> dict:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect_home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_API_URL": api_url}  # the session's server: no temporary one per run
    out = tmp_path / "runs.json"
    args = [sys.executable, "-m", "tests.multiview.demo_twice", str(home), str(REPO / "configs" / "multiview_smoke.yaml"), str(out)]
    r = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    return json.loads(out.read_text())


def test_multiview_demo_end_to_end_and_idempotent(tmp_path, prefect_api_url):
    home = tmp_path / "home"
    runs = _demo_twice(home, tmp_path, prefect_api_url)
    first, second, (counts1, counts2, counts3) = runs["first"], runs["second"], runs["counts"]
    m = first["metrics"]
    assert m["views_per_set"] == 4 and m["pose_chance"] == pytest.approx(0.25)
    assert 2 <= m["num_objects"] <= 6 and m["object_chance"] == pytest.approx(1 / m["num_objects"])
    for k in ("pose_accuracy", "pose_judge_accuracy", "object_accuracy", "object_judge_accuracy", "cross_view_agreement",
              "camera_permutation_follow", "ssim"):
        assert 0.0 <= m[k] <= 1.0, k
    assert m["psnr"] > 0
    renders = first["renders"]
    assert Path(renders["grid"]).exists() and Path(renders["turntable_0"]).suffix == ".gif" and Path(renders["turntable_0"]).exists()

    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        readme = json.loads((home / "source" / "multiview" / "README.json").read_text())
        assert set(readme["planted"]) == set(EXPECTED)
        assert counts1["samples"] == readme["objects"] + len(EXPECTED)  # every input once
        src = home / "source" / "multiview"
        for kind, rel in readme["planted"].items():
            row = con.execute("SELECT status, reason FROM samples WHERE source_uri = ?", [str((src / rel).resolve())]).fetchone()
            assert row is not None, rel
            assert (row[0], row[1].split(":")[0]) == EXPECTED[kind], (kind, row)
        assert con.execute("SELECT count(*) FROM metrics WHERE name = 'pose_accuracy'").fetchone()[0] == 3  # one per run
    finally:
        con.close()

    assert {t: counts2[t] for t in TABLES[:4]} == {t: counts1[t] for t in TABLES[:4]}
    assert counts2["checkpoints"] == counts1["checkpoints"] + 1 and second["curation"] == first["curation"]
    # the third run, after its shards were deleted, curated and encoded them again: the same rows
    assert {t: counts3[t] for t in TABLES[:4]} == {t: counts1[t] for t in TABLES[:4]} and runs["third"]["curation"] == first["curation"]
    assert list((home / "curated" / "multiview").glob("*.tar")) and list((home / "encoded" / "multiview").glob("*.tar"))
