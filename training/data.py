"""Training data from a frozen catalog manifest: encoded latents and caption features.

Reads only the shard members the manifest names, grouped by shard so each tar is opened once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from preprocess.shards import npy_load, read_members


@dataclass
class Example:
    key: str
    latent: torch.Tensor  # [C, T, H, W] float32
    cap_feats: torch.Tensor  # [L, D] float32
    cap_mask: torch.Tensor  # [L] bool
    caption: str
    split: str
    meta: dict = field(default_factory=dict)


@dataclass
class NullCaption:
    """The text encoder's output for "": the unconditional input for dropout and guidance."""

    cap_feats: torch.Tensor  # [L, D]
    cap_mask: torch.Tensor  # [L]

    @classmethod
    def load(cls, path: str | Path) -> "NullCaption":
        z = np.load(path)
        return cls(torch.from_numpy(z["cap_feats"].astype(np.float32)), torch.from_numpy(z["cap_mask"]))

    def expand(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cap_feats.expand(n, -1, -1), self.cap_mask.expand(n, -1)


def _sibling(member: str, field_name: str) -> str:
    key = member.split(".", 1)[0]
    return f"{key}.{field_name}"


def load_examples(manifest) -> list[Example]:
    """All members of a manifest (catalog.Manifest) as in-memory examples, in manifest order."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for m in manifest.members:
        lat_shard, lat_member = m.encodings["latent"]
        txt_shard, txt_member = m.encodings["text"]
        wanted[lat_shard].add(lat_member)
        wanted[txt_shard] |= {txt_member, _sibling(txt_member, "cap_mask.npy")}
    blobs: dict[tuple[str, str], bytes] = {}
    for shard, names in wanted.items():
        for name, data in read_members(shard, names).items():
            blobs[(shard, name)] = data
    out = []
    for m in manifest.members:
        lat_shard, lat_member = m.encodings["latent"]
        txt_shard, txt_member = m.encodings["text"]
        out.append(
            Example(
                key=m.key,
                latent=torch.from_numpy(npy_load(blobs[(lat_shard, lat_member)]).astype(np.float32)),
                cap_feats=torch.from_numpy(npy_load(blobs[(txt_shard, txt_member)]).astype(np.float32)),
                cap_mask=torch.from_numpy(npy_load(blobs[(txt_shard, _sibling(txt_member, "cap_mask.npy"))])),
                caption=m.caption or "",
                split=m.split,
                meta=m.meta or {},
            )
        )
    return out


def collate(examples: list[Example]) -> dict:
    """Stack when all latents share a shape (one tensor), else keep a list (the model pads)."""
    shapes = {tuple(e.latent.shape) for e in examples}
    x = torch.stack([e.latent for e in examples]) if len(shapes) == 1 else [e.latent for e in examples]
    return {
        "x1": x,
        "cap_feats": torch.stack([e.cap_feats for e in examples]),
        "cap_mask": torch.stack([e.cap_mask for e in examples]),
    }
