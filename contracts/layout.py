"""Where things live by default: one workspace folder (LUMINA_HOME) holding data, shards, runs and the catalog."""

from __future__ import annotations

import os
from pathlib import Path


def default_home() -> Path:
    return Path(os.environ.get("LUMINA_HOME", "lumina_home")).resolve()


def default_catalog_path() -> Path:
    env = os.environ.get("LUMINA_CATALOG")
    return Path(env).resolve() if env else default_home() / "catalog.duckdb"
