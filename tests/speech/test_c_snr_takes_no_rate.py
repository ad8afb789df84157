"""audio.snr_db took a sample rate and never read it (its frames and bands are fixed in samples at
TARGET_SR): a caller passing another rate got the estimate for 22,050 Hz without a word. Its one
caller, curation.prepare, measures after resampling every take to TARGET_SR, so the argument is gone:
a rate passed now is an error, not an estimate at the wrong rate."""

from __future__ import annotations

import numpy as np
import pytest

from preprocess.speech import audio


def test_a_sample_rate_given_to_the_snr_estimate_is_refused():
    y = np.random.default_rng(0).normal(0, 0.1, audio.TARGET_SR).astype(np.float32)
    with pytest.raises(TypeError):
        audio.snr_db(y, 16_000)  # was read as nothing: the 22,050 Hz estimate
    with pytest.raises(TypeError):
        audio.snr_db(y, sr=audio.TARGET_SR)
    assert audio.snr_db(np.zeros(4096, np.float32), cap=60.0) == 60.0  # the cap is a keyword

