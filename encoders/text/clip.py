"""CLIP text encoder: token features of a chosen layer, pooled = the projected end-of-text embedding."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from encoders.clip import Clip, split_arch_spec
from encoders.device import resolve_device
from encoders.fingerprint import fingerprint, weights_fingerprint, weights_record
from encoders.text.features import TextFeatures, check_layer, check_room, say_truncated

_LONG_CAPTION = 1024  # tokens counted of a caption, to say how many max_tokens cut off


class ClipTextEncoder:
    name = "clip"
    thread_safe = True  # encode() may run in several threads at once (Clip locks what may not)

    def __init__(self, path: str | Path, layer: int = -1, max_tokens: int | None = None, device: str | None = None):
        self.clip = Clip(path, resolve_device(device))
        self.path, self.layer = str(path), layer
        check_layer(self.name, layer, self.clip.num_layers)
        self.max_length = self._fit_max_tokens(max_tokens)
        self.dim = self.clip.width
        arch, weights = split_arch_spec(self.path)
        extra = {"arch": arch}
        beside = self.clip.tokenizer_path
        if beside is not None and beside != weights:  # a pipeline's tokenizer/: its files are not under the weights' folder
            extra["tokenizer"] = fingerprint("tokenizer", beside)
        self.fingerprint = fingerprint("clip", weights, {"layer": layer, "max_tokens": self.max_length}, extra=extra)
        # the files from_pretrained reads are a Hugging Face CLIP's: open_clip reads open_clip_model.safetensors
        # (or its .bin), which weights_read does not name, and a hub folder in both formats holds model.safetensors too
        self.weights_fingerprint = (weights_fingerprint("clip", weights, {"layer": layer, "max_tokens": self.max_length}, extra=extra)
                                    if self.clip.kind == "hf" else None)

    def _fit_max_tokens(self, max_tokens: int | None) -> int:
        """At most the CLIP's positions: more cannot be encoded, and a user asking for more is told."""
        limit = self.clip.context_length
        if max_tokens and max_tokens > limit:
            logging.getLogger(__name__).warning("--max-tokens %d: the CLIP at %s has %d positions; captions are encoded to %d tokens",
                                                max_tokens, self.path, limit, limit)
        check_room(self.name, min(max_tokens or limit, limit), 2)  # start and end of text
        return min(max_tokens or limit, limit)

    def encode(self, captions: list[str], warn_truncated: bool = True) -> TextFeatures:
        dropped = self._tokens_beyond(captions)
        if warn_truncated:
            say_truncated(self.name, self.max_length, dropped)
        tokens, mask, pooled = self.clip.text(list(captions), self.layer, self.max_length)
        return TextFeatures(tokens.half().numpy(), mask.numpy(), pooled.numpy(), dropped)

    def _tokens_beyond(self, captions: list[str]) -> np.ndarray:
        """[B] int: each caption's tokens (start and end of text included) past max_length, which the
        CLIP's tokenizer cuts off (keeping the end of text), counted by tokenizing to a long length:
        the end of text found as Clip.tokenize finds it, padding is 0 or the end of text."""
        long = max(_LONG_CAPTION, 4 * self.max_length)
        ids = self.clip.tokenizer(list(captions), context_length=long)
        return (self.clip.end_of_text(ids) + 1 - self.max_length).clamp(min=0).numpy().astype(np.int64)

    def describe(self) -> dict:
        return {"name": self.name, "path": self.path, "layer": self.layer, "max_tokens": self.max_length, "fingerprint": self.fingerprint,
                **weights_record(self)}


def load_clip_text(path: str | Path, layer: int = -1, max_tokens: int | None = None, device: str | None = None) -> ClipTextEncoder:
    return ClipTextEncoder(path, layer, max_tokens, device)
