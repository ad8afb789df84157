"""`lumina demo --modality multiview` at a smoke budget, run twice: every planted bad input is in
the catalog with its status and reason, the metrics and renders exist, and the second run adds
no sample, verdict, shard or encoding rows."""

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
LUMINA = str(Path(sys.executable).parent / "lumina")
pytestmark = pytest.mark.slow
TABLES = ("samples", "verdicts", "shards", "encodings", "checkpoints")


def _demo(home: Path, tmp_path: Path) -> dict:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect_home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    args = [LUMINA, "demo", "--modality", "multiview", "--home", str(home), "--config", str(REPO / "configs" / "multiview_smoke.yaml"), "--json"]
    r = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    return json.loads(r.stdout[r.stdout.index("{\n"):])


def _counts(path: Path) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


def test_multiview_demo_end_to_end_and_idempotent(tmp_path):
    home = tmp_path / "home"
    first = _demo(home, tmp_path)
    m = first["metrics"]
    assert m["views_per_set"] == 4 and m["pose_chance"] == pytest.approx(0.25) and m["object_chance"] == pytest.approx(1 / 6)
    for k in ("pose_accuracy", "pose_judge_accuracy", "object_accuracy", "object_judge_accuracy", "cross_view_agreement",
              "camera_permutation_follow", "ssim"):
        assert 0.0 <= m[k] <= 1.0, k
    assert m["psnr"] > 0
    renders = first["renders"]
    assert Path(renders["grid"]).exists() and Path(renders["turntable_0"]).suffix == ".gif" and Path(renders["turntable_0"]).exists()
    counts1 = _counts(home / "catalog.duckdb")

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
        assert con.execute("SELECT count(*) FROM metrics WHERE name = 'pose_accuracy'").fetchone()[0] == 1
    finally:
        con.close()

    second = _demo(home, tmp_path)
    counts2 = _counts(home / "catalog.duckdb")
    assert {t: counts2[t] for t in TABLES[:4]} == {t: counts1[t] for t in TABLES[:4]}
    assert counts2["checkpoints"] == counts1["checkpoints"] + 1 and second["curation"] == first["curation"]
