"""`lumina demo --modality speech` end to end at smoke scale: raw audio -> evaluated model, every
planted input in the catalog as expected, WAV and spectrogram renders written, metrics in the
catalog; curating and encoding the same corpus again adds no rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.speech.planted import check_planted

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


def test_speech_demo_end_to_end(tmp_path, prefect_api_url):
    home = tmp_path / "home"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect_home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_API_URL": prefect_api_url}  # the session's server: no temporary one for this run
    args = [LUMINA, "demo", "--modality", "speech", "--home", str(home), "--config", str(REPO / "configs" / "speech-smoke.yaml"), "--json"]
    r = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    summary = json.loads(r.stdout[r.stdout.index("{\n"):])
    m = summary["metrics"]
    assert 0.0 <= m["digit_accuracy"] <= 1.0 and 0.1 <= m["chance_accuracy"] <= 0.5  # 1 / the digits in a tiny holdout
    assert m["mcd_db"] > 0 and 0.0 <= m["wer_real_vocoded"] and 0.0 <= m["wer_generated"]
    assert 0.0 < m["heldout_fm_loss"] < 5.0 and m["frames_per_phone"] > 0
    wavs = [Path(v) for k, v in summary["renders"].items() if k.startswith("wav_")]
    assert wavs and all(w.read_bytes()[:4] == b"RIFF" for w in wavs)
    assert Path(summary["renders"]["grid"]).read_bytes()[:4] == b"\x89PNG"

    src = home / "source" / "speech"
    planted = json.loads((src / "README.json").read_text())["planted"]
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT source_uri, status, reason FROM samples WHERE modality = 'speech'").fetchall()
        names = {n for (n,) in con.execute("SELECT DISTINCT name FROM metrics").fetchall()}
        # the demo names no text encoder: speech gets the phone encoder by default
        text_encoders = {f for (f,) in con.execute("SELECT DISTINCT encoder_fingerprint FROM encodings WHERE kind = 'text'").fetchall()}
        manifests = {n for (n,) in con.execute("SELECT name FROM manifests").fetchall()}
    finally:
        con.close()
    by_name = {uri.split(str(src.resolve()) + "/")[-1]: (status, reason) for uri, status, reason in rows}
    assert len(by_name) == len(rows)  # no input twice
    check_planted(by_name, planted)
    assert {"digit_accuracy", "mcd_db", "wer_generated", "wer_real_vocoded"} <= names
    assert len(text_encoders) == 1 and next(iter(text_encoders)).startswith("phone@"), text_encoders
    assert manifests == {"demo-speech-train", "demo-speech-holdout"}  # apart from the image demo's demo-train

    # The curate and encode stages again on the same corpus: the catalog does not grow.
    from flows.steps import curate_step, encode_step
    from preprocess.curate import CurateConfig
    from preprocess.encode import EncodeConfig
    from preprocess.speech.demo import DEMO

    before = _counts(home / "catalog.duckdb")
    again = curate_step(str(src), str(home), CurateConfig(modality="speech", options=DEMO["curate_options"]), backend="local")
    encode_step(str(home), "speech", EncodeConfig(**DEMO.get("encode_options", {})), backend="local", shard_uris=again["shard_uris"])
    assert _counts(home / "catalog.duckdb") == before
    assert again["counts"] == summary["curation"]

    # The normalisation travels with the checkpoint: the dataset's statistics, measured at encoding.
    stats = json.loads((home / "encoded" / "speech" / "mel_statistics.json").read_text())
    info = json.loads((Path(summary["checkpoint"]) / "latent_encoder.json").read_text())
    assert (info["shift"], info["scale"]) == (stats["mean"], 1.0 / stats["std"]) and stats["split"] == "train"

    # `lumina sample --text` (in this process: a second interpreter costs seconds of imports): the
    # length comes from the phoneme count and the measured durations.
    import soundfile as sf

    from evaluation.speech.durations import from_checkpoint
    from flows.cli import main as lumina

    out = tmp_path / "seven.wav"
    assert lumina(["sample", "--home", str(home), "--checkpoint", summary["checkpoint"], "--text", "seven", "--out", str(out), "--steps", "4"]) == 0
    y, sr = sf.read(out)
    durations = from_checkpoint(summary["checkpoint"], str(home / "catalog.duckdb"))
    assert durations is not None and durations.num_samples > 0
    assert sr == 22050 and abs(len(y) - durations.frames(5) * 256) <= 256  # "seven": s ɛ v ə n
    assert out.with_suffix(".png").exists()
