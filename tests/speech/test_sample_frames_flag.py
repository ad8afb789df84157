"""`lumina sample --frames 3` (or --views) on a speech checkpoint was refused as on an image one:
"this checkpoint was trained on single-frame latents (speech), it makes one frame", while --size
got speech's own line (the length comes from the prompt). Both get speech's line now, before the
flags are read as a latent shape and before any model loads."""

from __future__ import annotations

import json

import pytest

from evaluation.sample import SampleConfig, sample_to_files


@pytest.fixture
def speech_ckpt(tmp_path):
    (tmp_path / "training.json").write_text(json.dumps({"latent_shape": [80, 1, 1, 100], "modality": "speech",
                                                        "train_config": {"modality": "speech"}}))
    (tmp_path / "latent_encoder.json").write_text(json.dumps({"name": "mel", "downsample": 1}))
    return tmp_path


@pytest.mark.parametrize("flags", [{"frames": 3}, {"frames": 1}, {"size": "80x100"}, {"size": "80x100", "frames": 2}])
def test_size_and_frames_get_speech_s_own_line(speech_ckpt, flags):
    with pytest.raises(ValueError) as e:
        sample_to_files(SampleConfig(checkpoint=str(speech_ckpt), prompt="seven", out=str(speech_ckpt / "s.wav"), **flags))
    assert str(e.value) == "speech: the length comes from the prompt's phonemes; --size, --frames and --views do not apply"


def test_other_modalities_keep_the_single_frame_line(speech_ckpt):
    info = json.loads((speech_ckpt / "training.json").read_text())
    (speech_ckpt / "training.json").write_text(json.dumps({**info, "latent_shape": [3, 1, 8, 8], "modality": "image",
                                                           "train_config": {"modality": "image"}}))
    with pytest.raises(ValueError, match=r"^--frames \(or --views\) 3: this checkpoint was trained on single-frame latents \(image\)"):
        sample_to_files(SampleConfig(checkpoint=str(speech_ckpt), prompt="seven", frames=3))
