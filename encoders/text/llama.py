"""Decoder-only LLM text encoder (LLaMA, Gemma, Qwen: any Hugging Face causal LM folder).

Lumina-T2X conditions on LLaMA hidden states and Lumina-Next on Gemma's penultimate layer, so the
layer is selectable: -1 is the last hidden state (after the final norm), -2 the penultimate block.
Captions are right-padded to max_tokens (128 by default) with a mask. There is no pooled output in
a causal LM: pooled = masked mean of the chosen layer (the model's adaLN path does the same).
bf16 on a GPU (the LLMs are trained in it), fp32 on CPU.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from encoders.device import resolve_device
from encoders.fingerprint import fingerprint, weights_fingerprint, weights_record
from encoders.path_checks import TOKENIZER_FILES, check_llm_path, is_causal_lm  # noqa: F401  (torch-free; re-exported)
from encoders.text.features import TextFeatures, check_layer, check_room, say_truncated

_FP16_MAX = 65504.0  # LLM activations have outliers; stored float16 must not overflow to inf


def base_model_class(path: str | Path):
    """The folder's base model class (what AutoModel loads), told that a causal LM checkpoint's head
    is expected to stay behind: transformers otherwise prints a LOAD REPORT listing lm_head.weight as
    UNEXPECTED on every load. Any other unexpected, missing or mismatched key is still reported."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    base = MODEL_MAPPING[type(AutoConfig.from_pretrained(path, local_files_only=True))]
    ignored = [*(base._keys_to_ignore_on_load_unexpected or []), r"^lm_head\."]
    return type(base.__name__, (base,), {"_keys_to_ignore_on_load_unexpected": ignored, "__module__": base.__module__})


class CausalLMTextEncoder:
    name = "llama"
    thread_safe = True  # encode() may run in several threads at once (encoders/threads.py)

    def __init__(self, path: str | Path, layer: int = -1, max_tokens: int = 128, device: str | None = None):
        from transformers import AutoTokenizer

        from encoders.local_model import every_weight_loaded, loading, weights_variant

        check_llm_path(path)
        self.path, self.layer, self.max_length = str(path), layer, max_tokens
        self.device = resolve_device(device)
        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        with loading("--text llama (its tokenizer)", path):
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        # captions are right-padded and cut at their end, whatever the tokenizer's config says: a chat model's
        # truncation_side "left" kept a long caption's end and dropped its start
        self.tokenizer.padding_side = self.tokenizer.truncation_side = "right"
        check_room(self.name, max_tokens, self.tokenizer.num_special_tokens_to_add())  # LLaMA's BOS
        if self.tokenizer.pad_token is None:  # LLaMA ships without one; padding is masked out anyway
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        # the base model drops the LM head: only hidden states are needed
        with loading("--text llama", path):
            self.model = every_weight_loaded(base_model_class(path).from_pretrained(
                path, local_files_only=True, dtype=dtype, variant=weights_variant(path), output_loading_info=True))
        self.model = self.model.to(self.device).eval().requires_grad_(False)
        # a multimodal model (Gemma 3, Llama 4) keeps its language model's sizes in text_config
        text_config = self.model.config.get_text_config()
        check_layer(self.name, layer, int(text_config.num_hidden_layers))
        self.dim = int(text_config.hidden_size)
        self.max_length = self._fit_positions(max_tokens, getattr(text_config, "max_position_embeddings", None))
        self.fingerprint = fingerprint("llama", path, {"layer": layer, "max_tokens": self.max_length})
        self.weights_fingerprint = weights_fingerprint("llama", path, {"layer": layer, "max_tokens": self.max_length})

    def _fit_positions(self, max_tokens: int, positions: int | None) -> int:
        """At most the model's positions, as a CLIP's: a GPT-2's learned positions past them ended in an
        IndexError traceback at the first batch, a RoPE model's ran on positions it was never trained at."""
        if not isinstance(positions, int) or positions <= 0 or max_tokens <= positions:
            return max_tokens
        logging.getLogger(__name__).warning("--max-tokens %d: the language model at %s has %d positions; captions are encoded "
                                            "to %d tokens", max_tokens, self.path, positions, positions)
        check_room(self.name, positions, self.tokenizer.num_special_tokens_to_add())
        return positions

    @torch.inference_mode()
    def encode(self, captions: list[str], warn_truncated: bool = True) -> TextFeatures:
        from encoders.text.minilm import TOKENIZE, tokens_beyond

        with TOKENIZE:
            dropped = tokens_beyond(self.tokenizer, captions, self.max_length)
            tok = self.tokenizer(list(captions), padding="max_length", truncation=True, max_length=self.max_length, return_tensors="pt")
        if warn_truncated:
            say_truncated(self.name, self.max_length, dropped)
        empty = tok["attention_mask"].sum(1) == 0  # a tokenizer without BOS (Qwen) gives "" no token at all
        if empty.any():  # one real token, so the null caption has features and a non-empty mask
            tok["input_ids"][empty, 0] = self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None else self.tokenizer.eos_token_id
            tok["attention_mask"][empty, 0] = 1
        tok = tok.to(self.device)
        out = self.model(**tok, output_hidden_states=True)
        hidden = out.hidden_states[self.layer].float()  # (B, L, D); [-1] is after the final norm
        mask = tok["attention_mask"].bool()
        m = mask.unsqueeze(-1).float()
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
        feats = hidden.clamp(-_FP16_MAX, _FP16_MAX).half()
        return TextFeatures(feats.cpu().numpy(), mask.cpu().numpy(), pooled.cpu().numpy().astype(np.float32), dropped)

    def describe(self) -> dict:
        return {"name": self.name, "path": self.path, "layer": self.layer, "max_tokens": self.max_length, "fingerprint": self.fingerprint,
                **weights_record(self)}
