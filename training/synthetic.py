"""Synthetic encoded shards and their manifest, for the loader's tests and benchmark.

The members are those preprocess/encode.py writes (latent.npy or moments.npy, cap_feats.npy,
cap_mask.npy, pooled.npy, optional frame_cond.npy, json meta), so the loader cannot tell them apart.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Sequence

import numpy as np

from contracts.members import CAP_FEATS, CAP_MASK, FRAME_COND, LATENT, META, MOMENTS, POOLED, member
from contracts.shards import npy_bytes, write_tar


def write_synthetic_shards(folder: str | Path, shapes: Sequence[tuple[int, int, int, int]], per_shard: int = 100,
                           moments: bool = False, frame_cond_dim: int = 0, cap_len: int = 8, cap_dim: int = 16,
                           scale: float = 0.5, shift: float = 0.1, seed: int = 0):
    """One sample per entry of `shapes` ([C, T, H, W] model-space latents); returns a catalog Manifest."""
    from catalog.manifest import Manifest, ManifestMember

    folder = Path(folder)
    rng = np.random.default_rng(seed)
    members: list[ManifestMember] = []
    for s0 in range(0, len(shapes), per_shard):
        shard = folder / f"encoded-{s0 // per_shard:05d}.tar"
        rows: list[tuple[str, bytes]] = []
        keys = []
        for i in range(s0, min(s0 + per_shard, len(shapes))):
            key = f"{i:012x}"
            C, T, H, W = shapes[i]
            if moments:
                mean = rng.standard_normal((C, T, H, W)).astype(np.float16)
                logvar = np.full((C, T, H, W), -2.0, np.float16)
                rows.append((member(key, MOMENTS), npy_bytes(np.concatenate([mean, logvar]))))
            else:
                rows.append((member(key, LATENT), npy_bytes(rng.standard_normal((C, T, H, W)).astype(np.float16))))
            mask = np.zeros(cap_len, bool)
            mask[: 1 + i % cap_len] = True
            rows += [(member(key, CAP_FEATS), npy_bytes(rng.standard_normal((cap_len, cap_dim)).astype(np.float16))),
                     (member(key, CAP_MASK), npy_bytes(mask)),
                     (member(key, POOLED), npy_bytes(np.zeros(cap_dim, np.float32)))]
            if frame_cond_dim:
                rows.append((member(key, FRAME_COND), npy_bytes(np.full((T, frame_cond_dim), i, np.float32))))
            meta = {"caption": f"sample {i}", "latent_scale": scale if moments else 1.0, "latent_shift": shift if moments else 0.0,
                    "stochastic": moments, "index": i}
            rows.append((member(key, META), json.dumps(meta, sort_keys=True).encode()))
            keys.append(key)
        write_tar(shard, rows, stage="encoded", num_samples=len(keys))
        field = MOMENTS if moments else LATENT
        for key in keys:
            members.append(ManifestMember(key=key, caption=None, split="train", meta={},
                                          encodings={"latent": (str(shard.resolve()), member(key, field)),
                                                     "text": (str(shard.resolve()), member(key, CAP_FEATS))}))
    return Manifest(name="synthetic", version=1, where="", created_at=datetime(2026, 1, 1),
                    encoders={"latent": "synthetic@v1", "text": "synthetic@v1"}, members=members)
