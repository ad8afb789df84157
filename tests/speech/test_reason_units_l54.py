"""A speech rejection's score says what it measures. Helper L's walkthrough (session 54): a clipped
take read 'clipping_ratio: score 0.131998 vs threshold 0.01' and a quiet one 'silence: score -70.7214
vs threshold -60', no unit in either; an 8 kHz take 'sample_rate: score 8000 vs threshold 16000'."""

from __future__ import annotations

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from contracts.records import Batch
from preprocess.curate import CurateConfig, curate
from preprocess.speech.espeak import synthesise


def test_rejections_name_the_unit_of_their_score(tmp_path):
    x, sr = synthesise("she sells sea shells by the sea shore", seed=3)
    y = x.astype(np.float32) / 32768
    root = tmp_path / "src"
    root.mkdir()
    takes = {"clipped": (np.clip(y * 8, -1, 1), sr), "quiet": (y * 0.003, sr),
             "phone": (resample_poly(y, 160, 441).astype(np.float32), 8000)}
    for name, (audio, rate) in takes.items():
        sf.write(root / f"{name}.wav", audio, rate)
        (root / f"{name}.txt").write_text("she sells sea shells by the sea shore", encoding="utf-8")
    result = curate(str(root), tmp_path / "home", CurateConfig(modality="speech"), backend="local")
    got = {s.source_uri.rsplit("/", 1)[-1]: s.reason for p in result.batch_paths for s in Batch.read(p).samples}
    assert got["clipped.wav"].startswith("clipping_ratio: score 0.")
    assert got["clipped.wav"].endswith("vs threshold 0.01 (the share of samples at full scale, before any gain)")
    assert got["quiet.wav"].startswith("silence: score -7") and got["quiet.wav"].endswith("vs threshold -60 (RMS in dBFS)")
    assert got["phone.wav"] == "sample_rate: score 8000 vs threshold 16000 (the file's own rate in Hz)"
