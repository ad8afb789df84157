"""The workspace layout: one folder (LUMINA_HOME) holding sources, shards, runs and the catalog.

Every stage finds its inputs and outputs here, so nothing passes internal paths around:

    <home>/catalog.duckdb
    <home>/curated/<modality>/curated-*.tar (+ .batch.json)     curate
    <home>/encoded/<modality>/encoded-*.tar (+ .batch.json)     encode
    <home>/encoders/<fingerprint>/encoder.json                  how to reload the encoder (also in the catalog)
    <home>/encoders/<fingerprint>/null_caption.npz              the text encoder's output for ""
    <home>/quarantine/<key>/                                    quarantined inputs and error.txt
    <home>/runs/<run id>/checkpoint-NNNNNNN/                    train, evaluate
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_home() -> Path:
    return Path(os.environ.get("LUMINA_HOME", "lumina_home")).resolve()


def default_catalog_path() -> Path:
    env = os.environ.get("LUMINA_CATALOG")
    return Path(env).resolve() if env else default_home() / "catalog.duckdb"


def safe_name(fingerprint: str) -> str:
    return fingerprint.replace("/", "_").replace("@", "_at_")


@dataclass(frozen=True)
class Workspace:
    home: Path

    @classmethod
    def at(cls, home: str | os.PathLike | None = None) -> "Workspace":
        return cls(Path(home).expanduser().resolve() if home else default_home())

    @property
    def catalog(self) -> Path:
        return self.home / "catalog.duckdb"

    def curated(self, modality: str) -> Path:
        return self.home / "curated" / modality

    def encoded(self, modality: str) -> Path:
        return self.home / "encoded" / modality

    @property
    def quarantine(self) -> Path:
        return self.home / "quarantine"

    def encoder_dir(self, fingerprint: str) -> Path:
        return self.home / "encoders" / safe_name(fingerprint)

    def null_caption(self, fingerprint: str) -> Path:
        return self.encoder_dir(fingerprint) / "null_caption.npz"

    def encoder_info(self, fingerprint: str) -> Path:
        return self.encoder_dir(fingerprint) / "encoder.json"

    def run_dir(self, run_id: str) -> Path:
        return self.home / "runs" / run_id
