"""What every text encoder returns."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from encoders.path_checks import check_layer  # noqa: F401  (the loaders' import; torch-free there)

log = logging.getLogger(__name__)


@dataclass
class TextFeatures:
    feats: np.ndarray  # [B, L, D] float16
    mask: np.ndarray  # [B, L] bool
    pooled: np.ndarray  # [B, D] float32
    # [B] int: tokens cut off the end of each caption, beyond the encoder's max_length (None: not counted)
    dropped: np.ndarray | None = None


def say_truncated(name: str, max_length: int, dropped: np.ndarray, hint: str = "") -> None:
    """One line per encode call (not per caption) when captions were longer than the encoder reads:
    their ends were cut without a word, so two captions differing only there encoded alike. A caller
    encoding in batches (lumina encode) sums ``Truncated`` over them and says it once instead."""
    Truncated.of(dropped).say(name, max_length, hint)


@dataclass
class Truncated:
    """How many of ``captions`` encoded were cut to the text encoder's max_length (``cut``), and the
    most tokens one of them lost: summed over encode calls (``+``), said once (``say``)."""
    captions: int = 0
    cut: int = 0
    most: int = 0

    @classmethod
    def of(cls, dropped: np.ndarray | None) -> "Truncated":
        if dropped is None or not len(dropped):
            return cls()
        return cls(len(dropped), int((dropped > 0).sum()), int(dropped.max()))

    def __add__(self, other: "Truncated") -> "Truncated":
        return Truncated(self.captions + other.captions, self.cut + other.cut, max(self.most, other.most))

    def say(self, name: str, max_length: int, hint: str = "") -> None:
        """``hint``: what encodes more of a caption (said after a semicolon), or "" where nothing does."""
        if self.cut:
            log.warning("%d of %d captions are longer than the %s text encoder's %d tokens: their ends are cut (up to %d "
                        "tokens dropped)%s", self.cut, self.captions, name, max_length, self.most,
                        f"; {hint}" if hint else "")


def check_room(name: str, max_length: int, own_tokens: int) -> None:
    """A caption needs a token beside those the encoder adds to every one (start and end of text, a
    BOS): `--max-tokens 1` ended in a transformers error for MiniLM and CLIP, and one that left only
    those tokens encoded every caption alike, without a word."""
    if max_length <= own_tokens:
        raise ValueError(f"--max-tokens {max_length}: the {name} text encoder adds {own_tokens} token(s) of its own to "
                         f"every caption, which leaves none for the caption's words: give at least {own_tokens + 1}")




def token_limit(encoder: object) -> int | None:
    """The most tokens ``encoder`` can read at all (a CLIP's positions, a transformer's
    max_position_embeddings), or None where nothing bounds it (phonemes)."""
    clip = getattr(encoder, "clip", None)
    if clip is not None and getattr(clip, "context_length", None):
        return int(clip.context_length)
    config = getattr(getattr(encoder, "model", None), "config", None)
    limit = getattr(config, "max_position_embeddings", None)
    return int(limit) if isinstance(limit, int) and limit > 0 else None


def reads_more(encoder: object) -> bool:
    """Whether a larger max_tokens would read more of a caption: False for an encoder that reads as
    many tokens as it can already (a CLIP at its 77 positions, where `--max-tokens` is clamped)."""
    limit = token_limit(encoder)
    return limit is None or encoder.max_length < limit


class TextEncoder(Protocol):
    name: str
    fingerprint: str
    dim: int
    max_length: int  # L of every output (features are padded to it, so shards stack)

    # warn_truncated: say_truncated's line for captions cut to max_length (a caller saying its own passes False)
    def encode(self, captions: list[str], warn_truncated: bool = True) -> TextFeatures: ...

    def describe(self) -> dict: ...
