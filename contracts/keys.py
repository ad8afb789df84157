"""Content-addressed sample keys and the deterministic train/holdout split."""

from __future__ import annotations

import hashlib

KEY_LEN = 32  # hex chars of sha256: 128 bits, ample for billions of samples


def sample_key(*parts: bytes | str) -> str:
    """Hash of the source bytes (and caption): the same input always gets the same key."""
    h = hashlib.sha256()
    for p in parts:
        b = p.encode("utf-8", "surrogateescape") if isinstance(p, str) else p
        h.update(len(b).to_bytes(8, "little"))  # length-prefix so ("ab","c") != ("a","bc")
        h.update(b)
    return h.hexdigest()[:KEY_LEN]


def split_of(key: str, holdout_percent: int = 20) -> str:
    """A fixed function of the key, so a sample never changes side between runs."""
    return "holdout" if int(key[:8], 16) % 100 < holdout_percent else "train"


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
