"""Near-duplicate search across runs: the accepted samples already in the catalog whose stored
perceptual hash shares a band with a new candidate's (banded LSH, as preprocess/image/dedup.py
searches within a run). A curate or refresh compares what it takes in with what earlier runs
kept; before, a near duplicate was found only when both came in the same run.

Curation stores each kept sample's signature in its meta: ``phash`` (64 hex digits, 256 bits)
and ``colour_signature`` (96 hex digits: 16 cells x RGB, one byte each). A modality that compares
more than these (video: three keyframe hashes) stores the rest in meta too and reads it back for
the samples the banded search found (``stored_meta``). A modality whose signature is not stored
in the catalog (speech: from the log-mel of its curated shard) asks for the accepted samples of
durations near its candidates' and the curated shard each is in (``accepted_in_curated_shards``)."""

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


def words(phash: int) -> tuple[int, int, int, int]:
    """A 256-bit hash as four unsigned 64-bit words, the highest first (as its hex digits read)."""
    return tuple((phash >> (64 * i)) & 0xFFFFFFFFFFFFFFFF for i in (3, 2, 1, 0))


_HEX4: pa.Array | None = None  # "0000" .. "ffff", made once


def candidate_bands(unique: list[int]) -> pa.Table:
    """The near_duplicate_candidates query's view: each hash once per band (band, its 4 hex digits),
    beside its four 64-bit words, made from arrays: as lists of Python objects (a tuple, a string
    and an int a band) it was ~3 KB a hash, the curate driver's peak at 20,000 images."""
    import numpy as np

    global _HEX4
    if _HEX4 is None:
        _HEX4 = pa.array([f"{v:04x}" for v in range(1 << 16)], pa.string())
    data = b"".join(h.to_bytes(32, "big") for h in unique)
    hash_words = np.frombuffer(data, ">u8").reshape(len(unique), 4).astype(np.uint64)  # h0 the highest
    values = np.frombuffer(data, ">u2").reshape(len(unique), BANDS)[:, ::-1]  # band b: bits 16b .. 16b + 15
    return pa.table({"band": pa.array(np.tile(np.arange(BANDS, dtype=np.int64), len(unique))),
                     "value": _HEX4.take(pa.array(values.reshape(-1).astype(np.int32))),
                     **{f"h{w}": pa.array(np.repeat(hash_words[:, w], BANDS)) for w in range(4)}})


def signatures_sharing_a_band(catalog: str | os.PathLike, modality: str, phashes: list[int],
                              exclude_keys: set[str], exclude_uris: set[str],
                              max_distance: int = BANDS - 1) -> list[KnownSignature]:
    """Accepted `modality` samples in the catalog with a band in common with one of `phashes` and
    within Hamming distance `max_distance` of it (the banded search finds every pair closer than
    BANDS, so further ones are left out), except the keys and inputs being curated now (their own
    rows, or rows a changed input replaces). Empty when the catalog does not exist yet."""
    from .db import Catalog

    if not phashes or not Path(catalog).exists():
        return []
    table = candidate_bands(sorted(set(phashes)))
    with Catalog.open(catalog, read_only=True) as cat, cat._connection() as con:
        con.register("candidate_bands", table)
        try:
            rows = con.execute(q("near_duplicate_candidates"), [modality, max_distance]).fetchall()
        finally:
            con.unregister("candidate_bands")
    return [KnownSignature(key, uri, int(h, 16), bytes.fromhex(c)) for key, uri, h, c in rows
            if key not in exclude_keys and uri not in exclude_uris]


def stored_meta(catalog: str | os.PathLike, keys: list[str], name: str) -> dict[str, str]:
    """key -> meta field `name` as text, of those of `keys` whose meta has it (a few found by
    signatures_sharing_a_band). Empty when the catalog does not exist yet or no key is given."""
    from .db import Catalog

    if not keys or not Path(catalog).exists():
        return {}
    with Catalog.open(catalog, read_only=True) as cat:
        _, rows = cat.sql(q("stored_meta_of_keys"), [sorted(set(keys)), f"$.{name}"])
    return dict(rows)


@dataclass(frozen=True)
class InCuratedShard:
    key: str
    source_uri: str
    duration: float
    shard_uri: str


def merged_windows(windows: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Closed intervals (lo <= hi) -> the fewest disjoint ones covering the same, in order."""
    out: list[list[float]] = []
    for lo, hi in sorted(w for w in windows if w[0] <= w[1]):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def accepted_in_curated_shards(catalog: str | os.PathLike, modality: str, windows: list[tuple[float, float]],
                               exclude_keys: set[str], exclude_uris: set[str]) -> list[InCuratedShard]:
    """Accepted `modality` samples in the catalog with a duration in one of `windows` (closed
    intervals, seconds; may overlap), each with the curated shard that holds it (of several, the
    latest run's), except the keys and inputs being curated now, in shard order. Empty when the
    catalog does not exist yet or no window is given."""
    from .db import Catalog

    merged = merged_windows(windows)
    if not merged or not Path(catalog).exists():
        return []
    table = pa.table({"lo": pa.array([w[0] for w in merged], pa.float64()), "hi": pa.array([w[1] for w in merged], pa.float64())})
    with Catalog.open(catalog, read_only=True) as cat, cat._connection() as con:
        con.register("duration_windows", table)
        try:
            rows = con.execute(q("accepted_in_curated_shards"), [modality]).fetchall()
        finally:
            con.unregister("duration_windows")
    return [InCuratedShard(key, uri, float(dur), shard) for key, uri, dur, shard in rows
            if key not in exclude_keys and uri not in exclude_uris]
