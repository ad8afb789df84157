"""`lumina sample --out take.WAV` writes take.WAV, as named: lumina sample accepts the suffix in any
case, and the speech writer then wrote take.wav (on a case-sensitive file system, not the file asked for)."""

from __future__ import annotations

import numpy as np

import evaluation.speech.render as render
from evaluation.speech.render import save_samples


def test_an_upper_case_wav_suffix_is_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(render, "vocode", lambda mel: np.zeros(256 * mel.shape[-1], np.float32))  # names, not audio
    z = np.full((80, 1, 1, 12), -5.0, np.float32)
    paths = save_samples([z], tmp_path / "take.WAV")
    assert [p.name for p in paths] == ["take.WAV", "take.png"] and (tmp_path / "take.WAV").is_file()
    numbered = save_samples([z, z], tmp_path / "many.WAV")
    assert [p.name for p in numbered] == ["many_1.WAV", "many_1.png", "many_2.WAV", "many_2.png"]
