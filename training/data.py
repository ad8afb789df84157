"""Training data from a frozen catalog manifest: encoded latents and caption features.

Reads only the shard members the manifest names, grouped by shard so each tar is opened once.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from contracts.members import CAP_MASK, FRAME_COND, META, MOMENTS, split_member, sibling
from contracts.shards import npy_load, read_members


@dataclass
class Example:
    key: str
    latent: torch.Tensor  # [C, T, H, W] float32
    cap_feats: torch.Tensor  # [L, D] float32
    cap_mask: torch.Tensor  # [L] bool
    caption: str
    split: str
    meta: dict = field(default_factory=dict)
    frame_cond: torch.Tensor | None = None  # [T, K] per-frame conditioning (multi-view cameras)


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


def _latent(stored: np.ndarray, field: str, meta: dict) -> torch.Tensor:
    """A stored latent as the model sees it. VAE moments give their mean here (scaled and shifted);
    drawing a fresh latent per read belongs to the streaming loader."""
    x = stored.astype(np.float32)
    if field == MOMENTS:
        mean = x[: x.shape[0] // 2]
        x = (mean - float(meta.get("latent_shift", 0.0))) * float(meta.get("latent_scale", 1.0))
    return torch.from_numpy(np.ascontiguousarray(x))


def load_examples(manifest) -> list[Example]:
    """All members of a manifest (catalog.Manifest) as in-memory examples, in manifest order."""
    wanted: dict[str, set[str]] = defaultdict(set)
    optional: dict[str, set[str]] = defaultdict(set)
    for m in manifest.members:
        lat_shard, lat_member = m.encodings["latent"]
        txt_shard, txt_member = m.encodings["text"]
        wanted[lat_shard] |= {lat_member, sibling(lat_member, META)}
        optional[lat_shard].add(sibling(lat_member, FRAME_COND))
        wanted[txt_shard] |= {txt_member, sibling(txt_member, CAP_MASK)}
    blobs: dict[tuple[str, str], bytes] = {}
    for shard in wanted.keys() | optional.keys():
        for name, data in read_members(shard, wanted[shard], optional[shard]).items():
            blobs[(shard, name)] = data
    out = []
    for m in manifest.members:
        lat_shard, lat_member = m.encodings["latent"]
        txt_shard, txt_member = m.encodings["text"]
        meta = json.loads(blobs[(lat_shard, sibling(lat_member, META))])
        cond = blobs.get((lat_shard, sibling(lat_member, FRAME_COND)))
        out.append(
            Example(
                key=m.key,
                latent=_latent(npy_load(blobs[(lat_shard, lat_member)]), split_member(lat_member)[1], meta),
                cap_feats=torch.from_numpy(npy_load(blobs[(txt_shard, txt_member)]).astype(np.float32)),
                cap_mask=torch.from_numpy(npy_load(blobs[(txt_shard, sibling(txt_member, CAP_MASK))])),
                caption=m.caption or "",
                split=m.split,
                meta={**meta, **(m.meta or {})},
                frame_cond=None if cond is None else torch.from_numpy(npy_load(cond).astype(np.float32)),
            )
        )
    return out


def collate(examples: list[Example]) -> dict:
    """Stack when all latents share a shape (one tensor), else keep a list (the model pads)."""
    shapes = {tuple(e.latent.shape) for e in examples}
    x = torch.stack([e.latent for e in examples]) if len(shapes) == 1 else [e.latent for e in examples]
    batch = {
        "x1": x,
        "cap_feats": torch.stack([e.cap_feats for e in examples]),
        "cap_mask": torch.stack([e.cap_mask for e in examples]),
    }
    if all(e.frame_cond is not None for e in examples):
        conds = [e.frame_cond for e in examples]
        batch["frame_cond"] = torch.stack(conds) if isinstance(x, torch.Tensor) else conds
    return batch
