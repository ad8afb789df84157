"""Typed records that stages hand to the catalog (the ground floor: imports nothing of ours).

Workers never open DuckDB. They write shards and, beside each, a *batch file* (``<name>.batch.json``)
holding these records; only the flow process registers batch files, one transaction per batch.
A batch may have no shard (a chunk whose inputs were all rejected or quarantined).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from enum import Enum
from typing import Any

STATUSES = ("accepted", "rejected", "quarantined")
BATCH_SUFFIX = ".batch.json"
SHARD_STAGES = ("curated", "encoded")


class Modality(str, Enum):
    """The kinds of media. The catalog's CHECK constraint on samples.modality, as the newest
    migration that defines it leaves it, lists the same values (tests/contracts checks the two
    agree): a new modality needs a migration too (README.md, "Adding a modality")."""

    IMAGE = "image"
    VIDEO = "video"
    MULTIVIEW = "multiview"
    SPEECH = "speech"

    @classmethod
    def parse(cls, value: "str | Modality") -> "Modality":
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"unknown modality {value!r}: expected one of {', '.join(m.value for m in cls)}") from None


MODALITIES = tuple(m.value for m in Modality)


# slots: the curate driver holds every input's record and its verdicts (~10) to the end of a run; an
# instance without slots is ~56 bytes more (its attribute values apart), ~0.5 KB an input in all
@dataclass(slots=True)
class SampleRecord:
    key: str  # content hash of source bytes (+ caption)
    modality: str
    source_uri: str
    status: str  # accepted / rejected / quarantined
    reason: str | None = None  # None only when accepted
    caption: str | None = None
    width: int | None = None
    height: int | None = None
    frames: int | None = None  # video frames, or views for multi-view
    duration: float | None = None  # seconds (video, speech)
    sample_rate: int | None = None
    split: str = "train"  # train / holdout, a deterministic function of the key
    meta: dict[str, Any] = field(default_factory=dict)  # free-form: label, scores, camera poses ...

    def __post_init__(self) -> None:
        self.modality = Modality.parse(self.modality).value
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.status != "accepted" and not self.reason:
            raise ValueError(f"sample {self.key}: a {self.status} sample needs a reason")


@dataclass(slots=True)
class VerdictRecord:
    key: str
    filter: str  # e.g. "min_size", "aspect_ratio", "phash_dedup"
    version: str
    score: float | None
    threshold: float | None
    passed: bool


@dataclass
class ShardRecord:
    uri: str  # absolute path or URL of the .tar
    stage: str  # curated / encoded
    num_samples: int
    bytes: int
    sha256: str
    # encoded shards: the curated shard they were made from (the catalog's shard -> shard lineage
    # edge); None for curated shards and in batch files written before the field existed
    source_shard: str | None = None


@dataclass
class EncodingRecord:
    key: str
    encoder_fingerprint: str  # name + config + weights hash
    kind: str  # "latent" or "text"
    shape: list[int]
    dtype: str
    shard_uri: str
    member: str  # webdataset member name inside the shard, e.g. "<key>.latent.npy"


@dataclass
class Batch:
    """What one worker produced for one chunk: at most one shard and the records about it."""

    shard: ShardRecord | None = None
    samples: list[SampleRecord] = field(default_factory=list)
    verdicts: list[VerdictRecord] = field(default_factory=list)
    encodings: list[EncodingRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Each record as a dict of its fields. Shallow: a record's meta and shape are the record's own
        objects, not copies (dataclasses.asdict copied every one: ~8x the CPU of a batch file's write; bench/bench_batch_write.py)."""
        return {
            "shard": fields_of(self.shard) if self.shard else None,
            "samples": [fields_of(s) for s in self.samples],
            "verdicts": [fields_of(v) for v in self.verdicts],
            "encodings": [fields_of(e) for e in self.encodings],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Batch":
        return cls(
            shard=ShardRecord(**d["shard"]) if d.get("shard") else None,
            samples=[SampleRecord(**s) for s in d.get("samples", [])],
            verdicts=[VerdictRecord(**v) for v in d.get("verdicts", [])],
            encodings=[EncodingRecord(**e) for e in d.get("encodings", [])],
        )

    def write(self, path: str | os.PathLike) -> Path:
        """Write atomically (temp file + rename) so a reader never sees half a batch file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(self.to_dict()))  # one C call; json.dump writes it piece by piece
            f.flush()
            os.fsync(f.fileno())  # as the shard it describes: a power loss leaves the old name or the whole file
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        fsync_dir(path.parent)
        return path

    @staticmethod
    def path_beside(shard_path: str | os.PathLike) -> Path:
        """Where the batch file of a shard lives: ``<shard>.batch.json``."""
        return Path(str(shard_path) + BATCH_SUFFIX)

    @classmethod
    def read(cls, path: str | os.PathLike) -> "Batch":
        with open(path) as f:
            return cls.from_dict(json.load(f))


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def fields_of(record: Any) -> dict[str, Any]:
    """A record's fields by name, in declaration order (what asdict gives for records of JSON values)."""
    names = _FIELD_NAMES.get(type(record))
    if names is None:
        names = _FIELD_NAMES[type(record)] = tuple(f.name for f in fields(record))
    return {n: getattr(record, n) for n in names}


def fsync_dir(folder: str | Path) -> None:
    """Make a rename in ``folder`` durable (where the platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
