"""Scale walk (1,000 own takes, 2026-12-06): of a take and its -6 dB FLAC copy, near-duplicate
marking kept whichever file name sorted first, so bad/quieter_0.flac was the sample and the
original takes/spk1/take_00353.flac was rejected as its near duplicate. The better copy is kept
whatever the names: the higher original sample rate, a lossless file, then the louder input."""

from __future__ import annotations

import numpy as np

from contracts.records import SampleRecord
from preprocess.modality import Candidate
from preprocess.sources import Entry, RawInput
from preprocess.speech.dedup import mark_near_duplicates


def _cand(name: str, fp: np.ndarray, lufs: float, sr: int = 22050) -> Candidate:
    rec = SampleRecord(key=name, modality="speech", source_uri=f"/c/{name}", split="train", status="accepted",
                       meta={"loudness_lufs": lufs, "original_sample_rate": sr})
    return Candidate(rec, [], RawInput(name, f"/c/{name}", {"media": Entry(name, f"/c/{name}", 0)}), (fp, 2.0))


def _fp(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(-5, 2, (20, 170)).astype(np.float16)


def test_the_louder_original_is_kept_whatever_the_names():
    fp = _fp(0)
    quieter = _cand("a/quieter_copy.flac", fp, -26.0)
    original = _cand("b/take.wav", fp, -20.0)
    mark_near_duplicates([quieter, original], 0.15)
    assert original.accepted and not quieter.accepted
    assert quieter.record.meta["near_duplicate_of"] == "b/take.wav"


def test_higher_sample_rate_and_lossless_come_before_loudness():
    fp = _fp(1)
    low_rate = _cand("a/x.wav", fp, -18.0, sr=16000)
    lossy = _cand("b/x.mp3", fp, -18.0)
    best = _cand("c/x.flac", fp, -24.0)
    mark_near_duplicates([low_rate, lossy, best], 0.15)
    assert [c.accepted for c in (low_rate, lossy, best)] == [False, False, True]

