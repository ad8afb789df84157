"""What every text encoder returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class TextFeatures:
    feats: np.ndarray  # [B, L, D] float16
    mask: np.ndarray  # [B, L] bool
    pooled: np.ndarray  # [B, D] float32


class TextEncoder(Protocol):
    name: str
    fingerprint: str
    dim: int
    max_length: int  # L of every output (features are padded to it, so shards stack)

    def encode(self, captions: list[str]) -> TextFeatures: ...

    def describe(self) -> dict: ...
