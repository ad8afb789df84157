"""The speech demo corpus has the same bytes whenever it is written: libsndfile stamps a float WAV's
PEAK chunk with the time of writing, so the planted NaN take's key changed from run to run."""

from __future__ import annotations

import time

import numpy as np


def test_a_float_wav_written_twice_a_second_apart_has_the_same_bytes(tmp_path):
    from preprocess.speech.demo_corpus import _save

    y = np.sin(np.linspace(0, 100, 2205)).astype(np.float32)
    y[100:110] = np.nan
    _save(tmp_path / "a.wav", y, 22050, None, "FLOAT")
    time.sleep(1.1)  # the stamp counts whole seconds
    _save(tmp_path / "b.wav", y, 22050, None, "FLOAT")
    a, b = (tmp_path / "a.wav").read_bytes(), (tmp_path / "b.wav").read_bytes()
    assert b"PEAK" in a and a == b


def test_the_planted_takes_still_read_as_written(tmp_path):
    import soundfile as sf

    from preprocess.speech.demo_corpus import _save

    y = np.linspace(-0.5, 0.5, 1000).astype(np.float32)
    _save(tmp_path / "c.wav", y, 22050, "four", "FLOAT")
    back, sr = sf.read(tmp_path / "c.wav", dtype="float32")
    assert sr == 22050 and np.array_equal(back, y) and (tmp_path / "c.txt").read_text() == "four\n"
