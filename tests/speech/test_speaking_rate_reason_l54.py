"""A take rejected for its speaking rate says the rate in phones per second, the figures it rests on
and the likely cause. Helper L's walkthrough (session 54): a take with a 3 s pause inside it (its
ends are trimmed, its middle is not) was rejected 'min_speaking_rate: score 2.81146 vs threshold 3',
which names no unit; a transcript of words the take does not say was as silent on max_speaking_rate."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from contracts.records import Batch
from preprocess.curate import CurateConfig, curate
from preprocess.speech.espeak import synthesise


def _curated(tmp_path, takes):
    root = tmp_path / "src"
    root.mkdir()
    for name, (audio, sr, text) in takes.items():
        sf.write(root / f"{name}.wav", audio, sr)
        (root / f"{name}.txt").write_text(text, encoding="utf-8")
    result = curate(str(root), tmp_path / "home", CurateConfig(modality="speech"), backend="local")
    return {s.source_uri.rsplit("/", 1)[-1]: s for p in result.batch_paths for s in Batch.read(p).samples}


def test_speaking_rate_rejections_say_phones_per_second_and_why(tmp_path):
    x, sr = synthesise("pause in the middle", seed=3)
    half = len(x) // 2
    paused = np.concatenate([x[:half], np.zeros(3 * sr, np.int16), x[half:]])
    word, _ = synthesise("yes", seed=3)
    long_text = "this transcript goes on and on about things the speaker never said at all in the take " * 2
    got = _curated(tmp_path, {"paused": (paused, sr, "pause in the middle"), "short": (word, sr, long_text)})

    slow = got["paused.wav"]
    assert slow.status == "rejected"
    assert slow.reason.startswith("min_speaking_rate: 2.")
    assert "phones per second, at least 3 wanted" in slow.reason
    assert "after trimming its ends" in slow.reason and "a long pause inside the take" in slow.reason
    fast = got["short.wav"]
    assert fast.status == "rejected"
    assert fast.reason.startswith("max_speaking_rate: ") and "phones per second, at most 30 wanted" in fast.reason
    assert "words the take does not say" in fast.reason
    phones, seconds = fast.meta["n_phones"], fast.duration
    assert f"({phones} phones of the transcript in {seconds:.2f} s" in fast.reason
