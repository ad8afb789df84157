"""CLIP-based image scores: one image embedding per sample, reused by every CLIP filter.

- aesthetic: a LAION-style predictor on the L2-normalised embedding, loaded from a local file:
  the linear v1 head (``sa_0_4_vit_l_14_linear.pth``: ``weight``, ``bias``) or the improved v2 MLP
  (``sac+logos+ava1-l14-linearMSE.pth``: ``layers.{0,2,4,6,7}``: linear layers with dropout and no
  activation, as published). Both were trained on CLIP ViT-L/14 embeddings: use that CLIP with them.
- clip_similarity: cosine between the image and its caption in CLIP space (LAION-400M kept >= 0.3,
  LAION-5B >= 0.28, both with ViT-B/32).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from encoders.clip import Clip
from encoders.device import resolve_device
from preprocess.filters.clip_config import AESTHETIC_TIERS, CLIP_FILTER_VERSION, ClipThresholds, clip_verdicts  # noqa: F401 - re-exported


def aesthetic_head_state(path: str | Path) -> dict[str, torch.Tensor]:
    """A LAION aesthetic head's tensors (a one-line error for a file that holds none)."""
    from encoders.local_model import loading

    p = Path(path)
    with loading("--aesthetic", path):
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(p))
        else:
            state = torch.load(p, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict) or not any(k.endswith("weight") for k in state):
        raise ValueError(f"--aesthetic {path}: no linear layers in it (expected a LAION aesthetic predictor state dict)")
    return state


def load_aesthetic_head(path: str | Path, embed_dim: int) -> torch.nn.Sequential:
    """The linear layers of a LAION aesthetic head, in order, without activations (as trained)."""
    state = aesthetic_head_state(path)
    prefixes = sorted({k[: -len("weight")].rstrip(".") for k in state if k.endswith("weight") and state[k].ndim == 2},
                      key=lambda s: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)])
    layers = []
    for prefix in prefixes:
        w = state[f"{prefix}.weight" if prefix else "weight"]
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        lin.load_state_dict({"weight": w, "bias": state[f"{prefix}.bias" if prefix else "bias"]})
        layers.append(lin)
    if not layers or layers[0].in_features != embed_dim or layers[-1].out_features != 1:
        raise ValueError(f"aesthetic head at {path} maps {layers[0].in_features if layers else '?'} -> "
                         f"{layers[-1].out_features if layers else '?'}; the CLIP embedding has {embed_dim} dims (ViT-L/14: 768)")
    return torch.nn.Sequential(*layers).eval().requires_grad_(False)


class ClipScorer:
    def __init__(self, clip_path: str | Path, aesthetic_path: str | Path | None = None, device: str | None = None, batch_size: int = 64):
        self.clip = Clip(clip_path, resolve_device(device))
        self.batch_size = batch_size
        self.embed_dim = int(self.clip.image_embeddings([np.zeros((8, 8, 3), np.uint8)]).shape[1])
        self.head = load_aesthetic_head(aesthetic_path, self.embed_dim) if aesthetic_path else None

    def embed_images(self, images: list[np.ndarray]) -> np.ndarray:
        """[H, W, 3] uint8 each -> [B, E] float32, L2-normalised. Compute once; pass it to every score."""
        parts = [self.clip.image_embeddings(images[i : i + self.batch_size]) for i in range(0, len(images), self.batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, self.embed_dim), np.float32)

    @torch.inference_mode()
    def aesthetic(self, emb: np.ndarray) -> np.ndarray:
        """[B] predicted aesthetic rating (1..10 scale of the LAION heads)."""
        if self.head is None:
            raise ValueError("no aesthetic head: pass aesthetic_path (a LAION aesthetic predictor .pth/.safetensors)")
        x = torch.nn.functional.normalize(torch.as_tensor(emb, dtype=torch.float32), dim=-1)
        return self.head(x)[:, 0].numpy()

    def text_similarity(self, emb: np.ndarray, captions: list[str]) -> np.ndarray:
        """[B] cosine between each image and its own caption."""
        text = self.clip.text_embeddings(list(captions))
        img = np.asarray(emb, np.float32) / np.linalg.norm(emb, axis=-1, keepdims=True).clip(min=1e-12)
        return (img * text).sum(-1)

