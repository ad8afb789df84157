"""`lumina demo --modality video` end to end at smoke scale: raw files -> evaluated model, every
planted input in the catalog as expected, renders written; curating and encoding the same corpus
again adds no rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from tests.video.planted import check_planted

REPO = Path(__file__).resolve().parents[2]
LUMINA = str(Path(sys.executable).parent / "lumina")
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("prefect_server")]  # one worker: they share its Prefect server

TABLES = ("samples", "verdicts", "shards", "encodings")


def _counts(path: Path) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


def test_video_demo_end_to_end(tmp_path, prefect_api_url):
    home = tmp_path / "home"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect_home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_API_URL": prefect_api_url}
    args = [LUMINA, "demo", "--modality", "video", "--home", str(home), "--config", str(REPO / "configs" / "video-smoke.yaml"), "--json"]
    r = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    summary = json.loads(r.stdout[r.stdout.index("{\n"):])
    m = summary["metrics"]
    for k in ("digit_accuracy", "digit_frame_accuracy", "direction_accuracy", "frame_consistency", "judge_digit_accuracy", "judge_direction_accuracy"):
        assert 0.0 <= m[k] <= 1.0, k
    assert m["direction_chance"] == pytest.approx(0.25) and m["judge_direction_accuracy"] > 0.9  # the trajectory rule on real clips
    assert m["num_generated"] > 0 and 0.0 < m["heldout_fm_loss"] < 5.0
    gif, mp4 = Path(summary["renders"]["gif"]), Path(summary["renders"]["mp4_0"])
    assert gif.read_bytes()[:6] == b"GIF89a" and mp4.stat().st_size > 0
    assert Path(summary["checkpoint"], "model.safetensors").exists()

    src = home / "source" / "video"
    planted = json.loads((src / "README.json").read_text())["planted"]
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT source_uri, status, reason FROM samples WHERE modality = 'video'").fetchall()
        metrics = {k for (k,) in con.execute("SELECT DISTINCT name FROM metrics").fetchall()}
    finally:
        con.close()
    by_uri = defaultdict(list)
    for uri, status, reason in rows:
        by_uri[uri].append((status, reason))
    check_planted(by_uri, src, planted)
    assert {"digit_accuracy", "direction_accuracy"} <= metrics

    # lumina sample --frames N: a clip of N frames from the video checkpoint. Through the CLI's main in
    # this process (as tests/speech/test_demo_e2e.py does): a second interpreter cost ~5 s of CPU, mostly
    # the imports of torch and transformers that the curate and encode below import here anyway.
    from flows.cli import main as lumina

    out = tmp_path / "sample.mp4"
    assert lumina(["sample", "--home", str(home), "--checkpoint", summary["checkpoint"], "--prompt", "a 3 moving left",
                   "--frames", "6", "--steps", "2", "--out", str(out)]) == 0
    import av

    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 6
    assert (tmp_path / "sample.mp4.frames.png").exists()

    # The curate and encode stages again on the same corpus: the catalog does not grow.
    from flows.steps import curate_step, encode_step
    from preprocess.curate import CurateConfig
    from preprocess.encode import EncodeConfig
    from preprocess.video.demo import DEMO

    before = _counts(home / "catalog.duckdb")
    again = curate_step(str(src), str(home), CurateConfig(modality="video", options=DEMO["curate_options"]), backend="local")
    encode_step(str(home), "video", EncodeConfig(), backend="local", shard_uris=again["shard_uris"])
    assert _counts(home / "catalog.duckdb") == before
    assert again["counts"] == summary["curation"]
