"""Questions about a checkpoint's training data, asked of the catalog by SQL (never the whole
manifest as objects): what sampling derives from it (speech durations, multi-view distances)."""

from __future__ import annotations

import json
from pathlib import Path


def query_training_manifest(ckpt: str | Path, sql: str, catalog: str | None = None) -> list[tuple] | None:
    """Rows of ``sql`` (its two parameters: the training manifest's name and version) on ``catalog``,
    else the catalog the checkpoint records; None when neither is reachable (a checkpoint copied
    without its catalog still samples, with defaults)."""
    try:
        from catalog import Catalog

        info = json.loads((Path(ckpt) / "training.json").read_text())
        with Catalog.open(catalog or info["train_config"].get("catalog"), read_only=True) as cat:
            head = cat.manifest_header(info["manifest"], info.get("manifest_version"))
            return cat.sql(sql, [head.name, head.version])[1]
    except Exception:  # noqa: BLE001 - any failure means: not reachable from here
        return None
