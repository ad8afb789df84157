"""What every text encoder returns."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class TextFeatures:
    feats: np.ndarray  # [B, L, D] float16
    mask: np.ndarray  # [B, L] bool
    pooled: np.ndarray  # [B, D] float32
    # [B] int: tokens cut off the end of each caption, beyond the encoder's max_length (None: not counted)
    dropped: np.ndarray | None = None


def say_truncated(name: str, max_length: int, dropped: np.ndarray) -> None:
    """One line per encode call (not per caption) when captions were longer than the encoder reads:
    their ends were cut without a word, so two captions differing only there encoded alike."""
    cut = int((dropped > 0).sum())
    if cut:
        log.warning("%d of %d captions are longer than the %s text encoder's %d tokens: their ends are cut (up to %d "
                    "tokens dropped); --max-tokens encodes more", cut, len(dropped), name, max_length, int(dropped.max()))


class TextEncoder(Protocol):
    name: str
    fingerprint: str
    dim: int
    max_length: int  # L of every output (features are padded to it, so shards stack)

    # warn_truncated: say_truncated's line for captions cut to max_length (a caller saying its own passes False)
    def encode(self, captions: list[str], warn_truncated: bool = True) -> TextFeatures: ...

    def describe(self) -> dict: ...
