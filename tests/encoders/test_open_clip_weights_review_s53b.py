"""Review of f0bfd44 (weights_fingerprint): an open_clip CLIP has none. Its loader reads
open_clip_model.safetensors, but weights_read named the Hugging Face model.safetensors that a hub
folder in both formats (laion's CLIP repositories) holds beside it: with the open_clip weights
replaced, the encoder (other features) was taken for the recorded one by same_encoder, which
`lumina sample` uses to accept a checkpoint's text encoder."""

from __future__ import annotations

import shutil

from .tiny_models import save_hf_clip, save_open_clip


def test_other_open_clip_weights_beside_the_same_hf_file_are_another_encoder(tmp_path):
    from encoders.fingerprint import same_encoder
    from encoders.text import load_text_encoder

    folder = save_open_clip(tmp_path / "dual")
    save_hf_clip(tmp_path / "hf")
    shutil.copy(tmp_path / "hf" / "model.safetensors", folder)  # the Hugging Face format beside it
    recorded = load_text_encoder("clip", folder).describe()
    assert "weights_fingerprint" not in recorded
    shutil.copy(save_open_clip(tmp_path / "other", seed=5) / "open_clip_model.safetensors", folder)
    assert not same_encoder(recorded, load_text_encoder("clip", folder))
