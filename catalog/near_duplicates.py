"""Near-duplicate search across runs: the accepted samples already in the catalog whose stored
perceptual hash shares a band with a new candidate's (banded LSH, as preprocess/image/dedup.py
searches within a run). A curate or refresh compares what it takes in with what earlier runs
kept; before, a near duplicate was found only when both came in the same run.

Curation stores each kept sample's signature in its meta: ``phash`` (64 hex digits, 256 bits)
and ``colour_signature`` (96 hex digits: 16 cells x RGB, one byte each)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from .sqlfiles import q

BANDS = 16  # of 16 bits: band b is hex digits [60 - 4b, 64 - 4b) of the 64


@dataclass(frozen=True)
class KnownSignature:
    key: str
    source_uri: str
    phash: int
    colour: bytes  # 48 bytes, 16 cells x RGB


def band_values(phash: int) -> list[tuple[int, str]]:
    """(band, its 4 hex digits) of a 256-bit hash, band 0 the lowest 16 bits."""
    return [(b, f"{(phash >> (16 * b)) & 0xFFFF:04x}") for b in range(BANDS)]


def signatures_sharing_a_band(catalog: str | os.PathLike, modality: str, phashes: list[int],
                              exclude_keys: set[str], exclude_uris: set[str]) -> list[KnownSignature]:
    """Accepted `modality` samples in the catalog with a band in common with any of `phashes`,
    except the keys and inputs being curated now (their own rows, or rows a changed input
    replaces). Empty when the catalog does not exist yet."""
    from .db import Catalog

    if not phashes or not Path(catalog).exists():
        return []
    bands = sorted({bv for h in phashes for bv in band_values(h)})
    table = pa.table({"band": [b for b, _ in bands], "value": [v for _, v in bands]})
    with Catalog.open(catalog, read_only=True) as cat, cat._connection() as con:
        con.register("candidate_bands", table)
        try:
            rows = con.execute(q("near_duplicate_candidates"), [modality]).fetchall()
        finally:
            con.unregister("candidate_bands")
    return [KnownSignature(key, uri, int(h, 16), bytes.fromhex(c)) for key, uri, h, c in rows
            if key not in exclude_keys and uri not in exclude_uris]
