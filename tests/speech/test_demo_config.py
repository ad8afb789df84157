"""The speech demo's model can remove all of the noise it starts from.

Sampling integrates the predicted velocity from pure noise, and the final layer maps the model's
width to the values of one patch: when a patch holds more values than the model is wide, the noise
outside that linear map's column space is never removed. At dim 128 with (1, 4) patches of 80 mel
channels (320 values) that was 60% of the noise energy: every generated spectrogram was grainy, and
Griffin-Lim of it unintelligible to the recogniser.
"""

from __future__ import annotations

from modelzoo import get_config
from preprocess.speech.demo import DEMO


def test_demo_patch_fits_in_the_model_width():
    cfg = get_config("flag-dit-tiny", in_channels=80, **DEMO["model_overrides"])
    assert cfg.patch_dim <= cfg.dim, (cfg.patch_dim, cfg.dim)

