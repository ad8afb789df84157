"""Manifests as training and evaluation see them: frozen lists of members with their encodings."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ManifestMember:
    key: str
    caption: str | None
    split: str
    meta: dict[str, Any]
    encodings: dict[str, tuple[str, str]]  # kind -> (shard_uri, member)


@dataclass
class Manifest:
    name: str
    version: int
    where: str
    created_at: datetime
    encoders: dict[str, str]  # kind -> encoder fingerprint
    members: list[ManifestMember] = field(default_factory=list)
    description: str = ""
    num_excluded: int = 0  # matched `where` but lacked an encoding of one of the manifest's kinds

    @property
    def id(self) -> str:
        """``name@v<version>``: how lineage and checkpoints refer to this manifest."""
        return f"{self.name}@v{self.version}"

    def __len__(self) -> int:
        return len(self.members)

    def shard_uris(self, kind: str | None = None) -> list[str]:
        """The shards a loader must read (for one encoding kind, or all), sorted."""
        kinds = [kind] if kind else list(self.encoders)
        return sorted({m.encodings[k][0] for m in self.members for k in kinds if k in m.encodings})

    def split_members(self, split: str) -> list[ManifestMember]:
        return [m for m in self.members if m.split == split]


@dataclass(frozen=True)
class ManifestHeader:
    """A manifest without its members: what a trainer that streams them needs up front."""

    name: str
    version: int
    where: str
    created_at: datetime
    encoders: dict[str, str]
    num_members: int
    description: str = ""
    num_excluded: int = 0

    @property
    def id(self) -> str:
        return f"{self.name}@v{self.version}"


@dataclass
class ManifestOverview:
    """What `lumina manifest show` prints, counted in SQL: the header, members per split, shards
    per encoding kind, and the first members by key (as many as asked)."""

    header: ManifestHeader
    splits: dict[str, int]
    shards: dict[str, int]
    first: list[ManifestMember]


def load_manifest_header(catalog_path: str | os.PathLike | None, name: str, version: int | None = None,
                         busy_timeout_s: float | None = None) -> ManifestHeader:
    """One manifest's header (the latest version by default), read-only."""
    from .db import Catalog

    with Catalog.open(catalog_path, read_only=True, busy_timeout_s=busy_timeout_s) as cat:
        return cat.manifest_header(name, version)


def load_manifest(catalog_path: str | os.PathLike | None, name: str, version: int | None = None,
                  busy_timeout_s: float | None = None, first: int | None = None) -> Manifest:
    """Open the catalog read-only, read one manifest (the latest version by default), close it.
    `first`: only its first members by key (keys are content hashes: an unbiased subset), so a
    large selection is not loaded whole; the returned manifest then holds only those."""
    from .db import Catalog

    with Catalog.open(catalog_path, read_only=True, busy_timeout_s=busy_timeout_s) as cat:
        if first is None:
            return cat.manifest(name, version)
        o = cat.manifest_overview(name, version, first=first)
    h = o.header
    return Manifest(name=h.name, version=h.version, where=h.where, created_at=h.created_at, encoders=h.encoders,
                    members=o.first, description=h.description, num_excluded=h.num_excluded)


# a manifest version's members that are no longer accepted: removed or superseded by a refresh since it was frozen
_NOT_ACCEPTED_MEMBERS = """
SELECT count(*) FROM manifest_members mm LEFT JOIN samples s ON s.key = mm.key
WHERE mm.manifest = ? AND mm.version = ? AND s.status IS DISTINCT FROM 'accepted'"""


def members_not_accepted(catalog_path: str | os.PathLike | None, name: str, version: int) -> int:
    """How many members of manifest ``name@v<version>`` are not accepted now (a refresh retired them:
    their files deleted or edited). The version still lists them, and a training of it trains on them."""
    from .db import Catalog

    with Catalog.open(catalog_path, read_only=True) as cat:
        return cat.sql(_NOT_ACCEPTED_MEMBERS, [name, version])[1][0][0]
