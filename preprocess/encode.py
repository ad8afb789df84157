"""Pre-encoding: a curated shard in, an encoded shard (latent + text features) and its batch file out."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from catalog.records import Batch, EncodingRecord
from preprocess.keys import sample_key
from encoders.latent import IdentityImageEncoder
from preprocess.shards import iter_samples, npy_bytes, write_tar
from encoders.text import HFTextEncoder

TEXT_FIELDS = ("cap_feats.npy", "cap_mask.npy", "pooled.npy")


def encoded_shard_name(curated_uri: str, fingerprints: list[str]) -> str:
    return "encoded-" + sample_key(Path(curated_uri).name, *fingerprints)[:16] + ".tar"


def encode_shard(curated_uri: str, out_dir: str | Path, text_encoder: HFTextEncoder, latent_encoder=None, batch_size: int = 64) -> Batch:
    """Encode every sample of one curated shard. Resumable: an existing complete output is reused."""
    latent_encoder = latent_encoder or IdentityImageEncoder()
    out_dir = Path(out_dir)
    name = encoded_shard_name(curated_uri, [latent_encoder.fingerprint, text_encoder.fingerprint])
    batch_path = Batch.path_beside(out_dir / name)
    if batch_path.exists() and (out_dir / name).exists():
        return Batch.read(batch_path)

    samples = list(iter_samples(curated_uri))
    members: list[tuple[str, bytes]] = []
    encodings: list[EncodingRecord] = []
    shard_uri = str((out_dir / name).resolve())
    for start in range(0, len(samples), batch_size):
        chunk = samples[start : start + batch_size]
        captions = [fields["txt"].decode("utf-8") for _, fields in chunk]
        text = text_encoder.encode(captions)
        for i, (key, fields) in enumerate(chunk):
            image = np.asarray(Image.open(io.BytesIO(fields["png"])).convert("RGB"))
            latent = latent_encoder.encode(image)
            meta = {"caption": captions[i], "latent_encoder": latent_encoder.fingerprint, "latent_scale": latent_encoder.scale, "text_encoder": text_encoder.fingerprint}
            members += [
                (f"{key}.latent.npy", npy_bytes(latent)),
                (f"{key}.cap_feats.npy", npy_bytes(text.feats[i])),
                (f"{key}.cap_mask.npy", npy_bytes(text.mask[i])),
                (f"{key}.pooled.npy", npy_bytes(text.pooled[i])),
                (f"{key}.json", json.dumps(meta, sort_keys=True).encode()),
            ]
            encodings.append(EncodingRecord(key, latent_encoder.fingerprint, "latent", list(latent.shape), str(latent.dtype), shard_uri, f"{key}.latent.npy"))
            encodings.append(EncodingRecord(key, text_encoder.fingerprint, "text", list(text.feats[i].shape), str(text.feats.dtype), shard_uri, f"{key}.cap_feats.npy"))
    shard = write_tar(out_dir / name, members, stage="encoded", num_samples=len(samples))
    batch = Batch(shard=shard, encodings=encodings)
    batch.write(batch_path)
    return batch


def null_caption_path(home: str | Path, fingerprint: str) -> Path:
    return Path(home) / "encoders" / fingerprint.replace("/", "_") / "null_caption.npz"


def write_null_caption(text_encoder: HFTextEncoder, home: str | Path) -> Path:
    """The empty string's features: the 'unconditional' input for caption dropout and guidance."""
    path = null_caption_path(home, text_encoder.fingerprint)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        t = text_encoder.encode([""])
        tmp = path.with_name(f".{os.getpid()}.{path.name}")  # several encode actors may race here
        with open(tmp, "wb") as f:
            np.savez(f, cap_feats=t.feats[0], cap_mask=t.mask[0], pooled=t.pooled[0])
        os.replace(tmp, path)
    return path
