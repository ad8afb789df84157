"""`lumina encode --max-tokens N` too small for a caption is one line naming the flag.

0 was read as "the encoder's default" without a word, a negative ended in a tokenizer's
OverflowError traceback (exit 1), 1 in a transformers error for MiniLM and CLIP ("Unable to create
tensor ..."), and a limit that left only the encoder's own tokens (CLIP's start and end of text)
encoded every caption alike (walkthrough 2026-12-07)."""

from __future__ import annotations

import pytest

from encoders.text import load_text_encoder

from .tiny_models import save_hf_clip_text, save_llama


@pytest.mark.parametrize("bad", [0, -3])
def test_max_tokens_below_one_is_refused_for_every_encoder(bad):
    for name in ("minilm", "clip", "llama", "phone"):
        with pytest.raises(ValueError, match=rf"^--max-tokens must be at least 1; got {bad}"):
            load_text_encoder(name, "/nowhere", max_tokens=bad)


def test_minilm_needs_room_beside_cls_and_sep():
    with pytest.raises(ValueError, match=r"^--max-tokens 2: the all-MiniLM-L6-v2 text encoder adds 2 token\(s\) of its own .* at least 3$"):
        load_text_encoder("minilm", max_tokens=2)
    t = load_text_encoder("minilm", max_tokens=3).encode(["red circle", "blue square"], warn_truncated=False)
    assert t.mask.sum(1).tolist() == [3, 3] and (t.feats[0] != t.feats[1]).any()  # one word each, and they differ


def test_clip_needs_room_beside_start_and_end_of_text(tmp_path):
    path = save_hf_clip_text(tmp_path / "clip")
    with pytest.raises(ValueError, match=r"^--max-tokens 2: the clip text encoder adds 2 token\(s\)"):
        load_text_encoder("clip", path, max_tokens=2)
    assert load_text_encoder("clip", path, max_tokens=3).encode(["a red circle"], warn_truncated=False).mask.sum() == 3


def test_a_llama_tokenizer_without_bos_takes_one_token(tmp_path):
    t = load_text_encoder("llama", save_llama(tmp_path / "llama"), max_tokens=1).encode(["a red circle"], warn_truncated=False)
    assert t.mask.tolist() == [[True]]
