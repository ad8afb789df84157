"""`--text llama` with a multimodal causal LM folder (Gemma 3 4B and up, Llama 4) encodes with its language model.

transformers runs Gemma 3 as a causal LM, so the path check passed, and the loader then ended in an
AttributeError traceback: the sizes of such a model are in its config's text_config ('Gemma3Config'
object has no attribute 'num_hidden_layers'; walkthrough 2026-12-07)."""

from __future__ import annotations

import pytest
import torch

from encoders.text import load_text_encoder

from .tiny_models import save_llama


@pytest.fixture(scope="module")
def gemma3(tmp_path_factory):
    """A tiny Gemma3ForConditionalGeneration (SigLIP tower + Gemma 3 text model), the tiny LLaMA's tokenizer."""
    from transformers import AutoTokenizer, Gemma3Config, Gemma3ForConditionalGeneration

    root = tmp_path_factory.mktemp("gemma3")
    tok = AutoTokenizer.from_pretrained(save_llama(root / "llama"))
    n = len(tok)
    cfg = Gemma3Config(text_config=dict(vocab_size=n + 4, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                        num_key_value_heads=1, head_dim=16, max_position_embeddings=256),
                       vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=32,
                                          patch_size=8),
                       mm_tokens_per_image=4, image_token_index=n + 1, boi_token_index=n + 2, eoi_token_index=n + 3)
    torch.manual_seed(0)
    Gemma3ForConditionalGeneration(cfg).eval().save_pretrained(root / "gemma3")
    tok.save_pretrained(root / "gemma3")
    return root / "gemma3"


def test_a_multimodal_folder_encodes_with_its_language_models_hidden_states(gemma3):
    from transformers import AutoModel, AutoTokenizer

    enc = load_text_encoder("llama", gemma3, layer=-2, max_tokens=24)
    assert enc.dim == 32
    got = enc.encode(["a red circle"], warn_truncated=False)
    ids = AutoTokenizer.from_pretrained(gemma3)(["a red circle"], return_tensors="pt")
    with torch.no_grad():
        want = AutoModel.from_pretrained(gemma3).eval().language_model(**ids, output_hidden_states=True).hidden_states[-2][0]
    n = int(got.mask[0].sum())
    assert n == ids["input_ids"].shape[1]
    torch.testing.assert_close(torch.from_numpy(got.feats[0, :n]).float(), want, atol=2e-3, rtol=2e-3)  # float16 storage


def test_its_layers_are_the_language_models(gemma3):
    with pytest.raises(ValueError, match=r"^--text-layer -3: the llama text encoder has 2 layer\(s\)"):
        load_text_encoder("llama", gemma3, layer=-3)
