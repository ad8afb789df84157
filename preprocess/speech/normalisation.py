"""The dataset's log-mel statistics, measured when it is encoded and stored with the encoding.

The model sees z = (log-mel - mean) / std: the identity latent encoder with shift = mean and
scale = 1 / std (options, so they are in its fingerprint, in encoder.json, in each encoded sample's
meta as latent_shift / latent_scale, and in a checkpoint's latent_encoder.json; decoding for
evaluation, `lumina sample` and the vocoder un-normalises with them). Another dataset, in another
workspace, gets its own statistics.

Measured once per workspace on the first encoding (training split of the curated shards) and kept
in ``encoded/speech/mel_statistics.json``: a refresh that encodes only new shards reuses them, so its
latents share the encoder fingerprint and the live manifests. Delete the file to measure again.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from contracts.keys import split_of
from contracts.members import META
from contracts.shards import iter_samples, npy_load

MEL_MEMBER = "mel.npy"
STATS_FILE = "mel_statistics.json"


@dataclass(frozen=True)
class MelStatistics:
    mean: float  # natural-log mel magnitude, over every bin and frame
    std: float
    clips: int
    frames: int
    split: str  # the split measured ("train", or "all" when the shards hold no training sample)
    layout: str  # "channels" or "image", from the curated meta

    def latent_options(self) -> dict:
        """The identity latent encoder's options: z = (mel - mean) * (1 / std)."""
        channels = 80 if self.layout == "channels" else 1
        return {"channels": channels, "shift": self.mean, "scale": 1.0 / self.std}


def _moments(mels: list[np.ndarray]) -> tuple[float, float, int]:
    """Mean and std over every element, in float64 (sums of squares of ~1e7 elements in float32 drift)."""
    n = sum(m.size for m in mels)
    total = sum(float(m.sum(dtype=np.float64)) for m in mels)
    mean = total / n
    var = sum(float(((m.astype(np.float64) - mean) ** 2).sum()) for m in mels) / n
    return mean, float(np.sqrt(var)), n


def measure(shard_uris: list[str]) -> MelStatistics:
    """Mean and std of the curated log-mels (the training split when there is one), rounded to 1e-4 so
    that the fingerprint does not hang on the last bits of a float sum."""
    by_split: dict[str, list[np.ndarray]] = {"train": [], "all": []}
    layouts = set()
    for uri in sorted(shard_uris):
        for key, fields in iter_samples(uri):
            if MEL_MEMBER not in fields:
                continue
            mel = npy_load(fields[MEL_MEMBER])
            by_split["all"].append(mel)
            if split_of(key) == "train":
                by_split["train"].append(mel)
            layouts.add(json.loads(fields.get(META, b"{}") or b"{}").get("mel_layout", "channels"))
    split = "train" if by_split["train"] else "all"
    mels = by_split[split]
    if not mels:
        raise ValueError(f"no {MEL_MEMBER} in {len(shard_uris)} curated speech shards: nothing to measure")
    if len(layouts) > 1:
        raise ValueError(f"curated speech shards mix mel layouts {sorted(layouts)}: curate them with one layout")
    mean, std, _ = _moments(mels)
    return MelStatistics(round(mean, 4), round(max(std, 1e-4), 4), len(mels), sum(m.shape[-1] for m in mels), split, layouts.pop())


def frozen_statistics(encoded_dir: Path, shard_uris: list[str]) -> MelStatistics:
    """The workspace's statistics: measured on the first call, read back on every later one."""
    path = Path(encoded_dir) / STATS_FILE
    if path.exists():
        return MelStatistics(**json.loads(path.read_text()))
    stats = measure(shard_uris)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{os.getpid()}.{path.name}")
    tmp.write_text(json.dumps(asdict(stats), indent=1, sort_keys=True))
    os.replace(tmp, path)  # two encodes racing write the same numbers
    return stats
