"""Prefect artifact keys with one history per source or manifest. The UI's Artifacts page groups an
artifact's versions by key: with one `refresh-counts` key, a team refreshing an image folder and a
speech corpus saw both sources' counts interleaved in one history, and `train-loss-curve` mixed
every manifest's training."""
from __future__ import annotations

import hashlib
import re


def artifact_key(kind: str, subject: str) -> str:
    """``refresh-counts`` of ``image-COCO_2017`` -> ``refresh-counts-image-coco-2017``: Prefect takes
    lowercase letters, digits and dashes only. Letters it does not take (``image-写真``) are told apart
    by a hash of the name (``refresh-counts-image-1f3a09c2``): dropped, every such folder of a modality
    shared the one key ``refresh-counts-image``."""
    slug = re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-")
    if any(c.isalnum() and not c.isascii() for c in subject):
        digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        slug = f"{slug}-{digest}".strip("-")
    return f"{kind}-{slug}" if slug else kind
