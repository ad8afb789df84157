"""`lumina encode --text-layer N` outside the text encoder's layers is one line naming the flag.

MiniLM took 0 (its embeddings) without a word and ended past its 6 blocks in an IndexError traceback
(exit 1); the phone encoder ignored the flag; CLIP and LLaMA said "layer -5 outside -1..-1", naming
no flag (walkthrough 2026-12-07)."""

from __future__ import annotations

import pytest

from encoders.text import load_text_encoder

from .tiny_models import save_hf_clip_text, save_llama


@pytest.mark.parametrize("layer", [0, 3, -7, 10])
def test_minilm_layers_count_back_from_the_last(layer):
    with pytest.raises(ValueError, match=rf"^--text-layer {layer}: the all-MiniLM-L6-v2 text encoder has 6 layer\(s\): give -1 \(its last\) to -6$"):
        load_text_encoder("minilm", layer=layer)


def test_minilm_first_block_is_minus_six():
    enc = load_text_encoder("minilm", layer=-6, max_tokens=8)
    assert enc.encode(["a red circle"], warn_truncated=False).feats.shape == (1, 8, 384)


def test_clip_and_llama_name_the_flag(tmp_path):
    with pytest.raises(ValueError, match=r"^--text-layer -4: the clip text encoder has 3 layer\(s\)"):
        load_text_encoder("clip", save_hf_clip_text(tmp_path / "clip"), layer=-4)
    with pytest.raises(ValueError, match=r"^--text-layer 0: the llama text encoder has 3 layer\(s\)"):
        load_text_encoder("llama", save_llama(tmp_path / "llama"), layer=0)


def test_the_phone_encoder_has_no_layer_to_choose():
    with pytest.raises(ValueError, match=r"^--text-layer -2: the phone encoder has no layers"):
        load_text_encoder("phone", layer=-2)
    assert load_text_encoder("phone").describe()["layer"] == -1
