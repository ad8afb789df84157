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


def fingerprint(name: str, path: str | Path | None, options: dict | None = None, extra: dict | None = None) -> str:
    """f"{name}@{16 hex}" over the options, every JSON config under path and every weight file."""
    h = hashlib.sha256(json.dumps({"name": name, "options": options or {}, "extra": extra or {}}, sort_keys=True, default=str).encode())
    if path is not None:
        root = Path(path)
        for f in config_files(root):
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
        for f in weight_files(root):
            h.update(file_digest(f).encode())
    return f"{name}@{h.hexdigest()[:16]}"
