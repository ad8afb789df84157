"""When the kept take of a near pair leaves, a refresh curates its rejected near copy again, for
speech as for images: the 16 kHz copy of a take stayed rejected audio_fingerprint_dedup against the
removed 48 kHz one, so the take was gone from training although a copy was in the folder
(catalog/queries/source_index.sql near_copies_of asked for phash_dedup only)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np

from flows.refresh import refresh_source
from preprocess.curate import CurateConfig
from preprocess.encode import EncodeConfig


def _take(path: Path, sr: int, text: str) -> None:
    import soundfile as sf
    import soxr

    from preprocess.speech.espeak import synthesise

    x, rate = synthesise(text, seed=0)
    sf.write(path, soxr.resample(x.astype(np.float32) / 32768, rate, sr), sr)
    path.with_suffix(".txt").write_text(text)


def _status(home: Path) -> dict[str, tuple[str, str | None]]:
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        return {Path(u).name: (s, r) for u, s, r in con.execute(
            "SELECT source_uri, status, reason FROM samples WHERE status NOT IN ('superseded')").fetchall()}
    finally:
        con.close()


def test_the_near_copy_of_a_deleted_take_is_curated_again(tmp_path):
    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    _take(src / "a_16k.wav", 16_000, "Please call Stella.")
    _take(src / "b_48k.wav", 48_000, "Please call Stella.")  # the better copy: kept
    _take(src / "c.wav", 22_050, "Ask her to bring these things.")

    def refresh():
        refresh_source(str(src), home, CurateConfig(modality="speech"), encode_cfg=EncodeConfig(text="phone"), backend="local")

    refresh()
    assert _status(home)["a_16k.wav"][1].startswith("audio_fingerprint_dedup: near duplicate of")
    (src / "b_48k.wav").unlink()
    (src / "b_48k.txt").unlink()
    refresh()
    rows = _status(home)
    assert rows["b_48k.wav"][0] == "removed" and rows["a_16k.wav"] == ("accepted", None), rows
