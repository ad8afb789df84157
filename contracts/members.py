"""Shard member names: ``<key>.<field>`` inside a webdataset tar.

Encoded shards look the same for every modality, so training and evaluation read them without
knowing where the data came from. Curated shards carry the modality's own media members, which
only that modality's package (preprocess/<modality>/) names; the caption and meta are shared.
"""

from __future__ import annotations

CAPTION = "txt"  # curated: the normalised caption, UTF-8
META = "json"  # curated and encoded: per-sample metadata (sizes, scores, encoder info)

# encoded
LATENT = "latent.npy"  # [C, T, H, W] float16: the model-space latent of a deterministic encoder
MOMENTS = "moments.npy"  # [2C, T, h, w] float16: VAE posterior mean and log-variance (draw per read)
CAP_FEATS = "cap_feats.npy"  # [L, D] float16 text token features
CAP_MASK = "cap_mask.npy"  # [L] bool
POOLED = "pooled.npy"  # [D] float32
FRAME_COND = "frame_cond.npy"  # [T, K] float32 per-frame conditioning (cameras of multi-view), optional

TEXT_FIELDS = (CAP_FEATS, CAP_MASK, POOLED)


def member(key: str, field: str) -> str:
    return f"{key}.{field}"


def split_member(name: str) -> tuple[str, str]:
    """``"<key>.<field>"`` -> (key, field); keys never contain a dot."""
    key, _, field = name.partition(".")
    return key, field


def sibling(name: str, field: str) -> str:
    """Another field of the same sample: sibling("k.cap_feats.npy", CAP_MASK) == "k.cap_mask.npy"."""
    return member(split_member(name)[0], field)
