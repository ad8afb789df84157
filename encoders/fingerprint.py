"""Encoder fingerprints: name + config + weights hash, so outputs of different encoders never mix."""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
_FULL_HASH_BYTES = 1 << 30  # files up to 1 GiB are hashed whole
_SAMPLES = 64  # larger files (LLaMA shards): size + 64 evenly spaced 1 MiB blocks, to keep a load fast


@lru_cache(maxsize=256)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        if size <= _FULL_HASH_BYTES:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
        else:
            for i in range(_SAMPLES):
                f.seek(i * (size - (1 << 20)) // (_SAMPLES - 1))
                h.update(f.read(1 << 20))
    return h.hexdigest()


def file_digest(path: str | Path) -> str:
    st = os.stat(path)
    return _file_digest(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def weight_files(path: str | Path) -> list[Path]:
    """The weight files of a model folder (recursively: diffusers pipelines nest), or the file itself."""
    p = Path(path)
    if p.is_file():
        return [p]
    return sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in WEIGHT_SUFFIXES)


def config_files(path: str | Path) -> list[Path]:
    p = Path(path)
    return [] if p.is_file() else sorted(p.rglob("*.json"))


def fingerprint(name: str, path: str | Path | None, options: dict | None = None, extra: dict | None = None,
                read_only: bool = False) -> str:
    """f"{name}@{16 hex}" over the options, every JSON config under path and every weight file.
    ``read_only``: over the weight files the loader reads alone (``weights_read``) and the configs
    but the weight indexes it does not read, where the folder names them: see ``weights_fingerprint``.
    The index it reads counts as before: a sharded model's (every real LLaMA's) weights fingerprint is
    then its fingerprint, as ``same_encoder`` takes it for a record made before weights_fingerprint was."""
    h = hashlib.sha256(json.dumps({"name": name, "options": options or {}, "extra": extra or {}}, sort_keys=True, default=str).encode())
    if path is not None:
        root = Path(path)
        reads = _loader_reads(root) if read_only else None
        read, index_read = reads if reads is not None else (None, None)
        for f in config_files(root):
            if read is not None and ".index" in f.name and f != index_read:  # a variant's index, not read
                continue
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
        for f in weight_files(root) if read is None else read:
            h.update(file_digest(f).encode())
    return f"{name}@{h.hexdigest()[:16]}"


# the names from_pretrained looks for, in its order (diffusers and transformers take safetensors first)
_READ_ORDER = (("diffusion_pytorch_model", "safetensors"), ("model", "safetensors"), ("diffusion_pytorch_model", "bin"),
               ("pytorch_model", "bin"))


def weights_read(folder: Path) -> list[Path] | None:
    """The weight files diffusers' or transformers' from_pretrained reads from ``folder`` (a single file,
    or the shards its index lists; the variant where the folder has its weights only as one), or None
    where it has none of their names (a single file, an open_clip folder): then every weight file counts."""
    reads = _loader_reads(folder)
    return None if reads is None else reads[0]


def _loader_reads(folder: Path) -> tuple[list[Path], Path | None] | None:
    """``weights_read``'s files and the index that lists them (None for a single file)."""
    from encoders.local_model import weights_variant

    if not folder.is_dir():
        return None
    variant = weights_variant(folder)
    v = f".{variant}" if variant else ""
    for stem, ext in _READ_ORDER:
        if (folder / f"{stem}{v}.{ext}").is_file():
            return [folder / f"{stem}{v}.{ext}"], None
        index = folder / f"{stem}.{ext}.index{v}.json"
        if index.is_file():
            try:
                return [folder / s for s in sorted(set(json.loads(index.read_text())["weight_map"].values()))], index
            except (OSError, ValueError, KeyError, AttributeError):
                return None
    return None


def weights_fingerprint(name: str, path: str | Path | None, options: dict | None = None, extra: dict | None = None) -> str | None:
    """The fingerprint over what the loader reads, recorded beside ``fingerprint`` (encoder.json, a checkpoint's
    latent_encoder.json): ``fingerprint`` hashes every weight file in the folder, so a variant downloaded
    later into it (diffusion_pytorch_model.fp16.safetensors beside the fp32 file: a hub cache snapshot
    grows so) changed it, and `lumina sample` refused the checkpoint ("latent encoder at ... is sd15@d6d4...,
    but the latents were made by sd15@1c0c...") whose weights had not changed. None where it is the same."""
    if path is None or weights_read(Path(path)) is None:
        return None
    return fingerprint(name, path, options, extra, read_only=True)


def weights_record(encoder) -> dict:
    """describe()'s ``weights_fingerprint`` entry, where it differs from the fingerprint (a folder with weight
    files the loader does not read): encoder.json stays as it was for every other folder."""
    read = getattr(encoder, "weights_fingerprint", None)
    return {"weights_fingerprint": read} if read and read != encoder.fingerprint else {}


def same_encoder(recorded: dict, encoder) -> bool:
    """Whether ``encoder`` is the one ``recorded`` (its describe()) names: the same fingerprint, or, where
    both recorded it, the same weights read (other weight files beside them do not count)."""
    if not recorded.get("fingerprint") or encoder.fingerprint == recorded["fingerprint"]:
        return True
    read = recorded.get("weights_fingerprint") or recorded["fingerprint"]  # recorded where the folder held the read files alone
    return read == (getattr(encoder, "weights_fingerprint", None) or encoder.fingerprint)
