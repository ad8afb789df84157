"""Near-duplicate images: a 256-bit perceptual hash AND a colour signature must both match.

pHash sees only luminance, so a pink and an orange circle of the same shape collide on it; the
colour signature (mean colour of a 4x4 grid) tells them apart. The colour distance is the largest
per-cell difference, not the mean, so a small coloured object on a large plain background still
counts. Search is banded LSH: 16 bands of 16 bits, so any pair within distance < 16 shares a band.
Of a group, the best copy is kept (preference.py): the most native pixels, the least lossy
encoding, the sharpest; what an earlier run kept stays kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np
from PIL import Image

from contracts.records import VerdictRecord
from preprocess.modality import own_size

PHASH_BITS = 256
PHASH_BANDS = 16
FILTER_VERSION = "3"  # v2: colour distance is the largest per-cell difference; v3: the best copy is kept, score = nearest distance


class NearSignature(NamedTuple):
    """What near-duplicate search compares, and which member of a group it keeps."""

    phash: int
    colour: np.ndarray | bytes  # colour_signature, or its 48 bytes (colour_bytes): the driver holds one per input
    preference: tuple = ()  # larger is better (preference.keep_preference); () ranks by path and key only


def perceptual_hash(img: Image.Image) -> int:
    import imagehash

    bits = imagehash.phash(img.convert("L"), hash_size=16).hash.flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def colour_signature(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB").resize((4, 4), Image.BOX), dtype=np.float32).reshape(16, 3)


def colour_bytes(img: Image.Image) -> bytes:
    """colour_signature as 48 bytes: its cells are a BOX resize's uint8 pixels, so nothing is lost,
    and a bytes object is ~80 bytes where the float32 array is ~300 (curate holds one per input)."""
    return np.asarray(img.convert("RGB").resize((4, 4), Image.BOX), dtype=np.uint8).tobytes()


def _colour_array(c: np.ndarray | bytes) -> np.ndarray:
    if isinstance(c, bytes):
        return np.frombuffer(c, np.uint8).astype(np.float32).reshape(16, 3)
    return np.asarray(c)


def colour_distance(a: np.ndarray | bytes, b: np.ndarray | bytes) -> float:
    return float(np.abs(_colour_array(a) - _colour_array(b)).mean(axis=-1).max())


@dataclass(frozen=True)
class _Kept:
    """A sample an earlier run kept, as the banded search sees a candidate."""

    record: SimpleNamespace
    signature: tuple[int, np.ndarray]


def store_signature(record, phash: int, colour: np.ndarray) -> None:
    """A kept sample's signature in its meta, for later runs to compare with (catalog/near_duplicates.py)."""
    record.meta["phash"] = f"{phash:0{PHASH_BITS // 4}x}"
    record.meta["colour_signature"] = np.clip(np.round(_colour_array(colour)), 0, 255).astype(np.uint8).tobytes().hex()


# hashes per catalog query: the query's table of bands is made of Python objects first, ~3 KB a hash
# (16 bands, each a tuple, a string and an index): all at once, that was the driver's peak at 20,000
# images; in parts of this many, a fixed ~25 MB (a scan of the catalog's samples each)
CATALOG_QUERY_HASHES = 8192


def kept_in_catalog(catalog, modality: str, cands: list, leaving: frozenset[str] = frozenset()) -> list[_Kept]:
    """The accepted samples earlier runs put in the catalog that share a pHash band with an
    accepted candidate: except the candidates' own keys, the samples of the inputs curated now (a
    changed caption gives a new key for the same pixels, which must replace, not match, the old)
    and those of the inputs in `leaving` (deleted from the source: a refresh retires them)."""
    from catalog.near_duplicates import signatures_sharing_a_band

    live = [c for c in cands if c.accepted and c.signature]
    if catalog is None or not live:
        return []
    uris, keys = {c.record.source_uri for c in cands} | set(leaving), {c.record.key for c in cands}
    hashes = sorted({c.signature[0] for c in live})
    found = {}  # key -> its signature: the query's rows are distinct and in key order, so are these
    for i in range(0, len(hashes), CATALOG_QUERY_HASHES):
        for k in signatures_sharing_a_band(catalog, modality, hashes[i:i + CATALOG_QUERY_HASHES], keys, uris):
            found.setdefault(k.key, k)
    return [_Kept(SimpleNamespace(key=k.key), (k.phash, np.frombuffer(k.colour, np.uint8).astype(np.float32).reshape(16, 3)))
            for k in (found[key] for key in sorted(found))]


def _best_first(c) -> tuple:
    """Sort key: the higher preference first, then source name and key (neither hash nor input order)."""
    preference = getattr(c.signature, "preference", ())
    return (not getattr(c, "kept_before", False), tuple(-x for x in preference), c.source.name if c.source else "", c.record.key)


def band_values(phashes: list[int]) -> np.ndarray:
    """[N, PHASH_BANDS] uint16: band b of each hash, (phash >> 16 b) & 0xFFFF (bands are 16 bits)."""
    data = b"".join(p.to_bytes(PHASH_BITS // 8, "little") for p in phashes)
    return np.frombuffer(data, "<u2").reshape(len(phashes), PHASH_BANDS)


class _BandIndex:
    """Which members share a band value, for members in a fixed order: per band, the members sorted
    by value (stable: in their order within a value). A dict of lists per (band, value) took ~3 KB
    an input at 20,000 images (a tuple, an int and a list each, 16 times), ~100 bytes here."""

    def __init__(self, phashes: list[int]):
        values = band_values(phashes)
        self.order = np.argsort(values, axis=0, kind="stable").astype(np.int32)  # [N, bands]
        ranked = np.take_along_axis(values, self.order.astype(np.intp), axis=0)
        cols = range(PHASH_BANDS)
        self.lo = np.stack([np.searchsorted(ranked[:, b], values[:, b], "left") for b in cols], 1).astype(np.int32)
        self.hi = np.stack([np.searchsorted(ranked[:, b], values[:, b], "right") for b in cols], 1).astype(np.int32)
        self.shares = (self.hi - self.lo > 1).any(axis=1)  # shares a band with some other member

    def earlier(self, i: int):
        """The members before i that share a band with it: band by band, each band's in member order
        (the order a dict of lists, appended to in member order, gave them)."""
        if not self.shares[i]:
            return
        for b, (lo, hi) in enumerate(zip(self.lo[i].tolist(), self.hi[i].tolist())):
            if hi - lo > 1:
                for j in self.order[lo:hi, b].tolist():
                    if j >= i:
                        break
                    yield j


def mark_near_duplicates(cands: list, max_distance: int, colour_max_diff: float, kept: list | None = None) -> None:
    """In place, best first (the signature's preference, then source name and key: the same on
    every run and for any input order): of a near pair, the one met later is rejected, its reason
    names the matched key. `kept`: samples earlier runs kept (kept_in_catalog), which come before
    every candidate. Every verdict's score is the Hamming distance to the nearest kept sample of
    matching colour, PHASH_BANDS (16) meaning none nearer than 16 (the banded search looks no
    further). Each candidate kept stores its signature in its meta."""
    if max_distance >= PHASH_BANDS:
        raise ValueError(f"phash_max_distance must be < {PHASH_BANDS} for the banded search to find every pair")
    members = list(kept or ())
    first = len(members)
    members += sorted((c for c in cands if c.accepted and c.signature), key=_best_first)
    if len(members) == first:
        return
    index = _BandIndex([m.signature[0] for m in members])
    found = [True] * first + [False] * (len(members) - first)  # kept, so far: what later members are compared with
    for i in range(first, len(members)):
        c = members[i]
        phash, colour = c.signature[0], c.signature[1]
        colours = _colour_array(colour)  # once, not at each comparison
        best, best_dist = None, PHASH_BITS
        for j in index.earlier(i):
            if found[j]:
                other = members[j]
                d = (phash ^ other.signature[0]).bit_count()
                if d < best_dist and colour_distance(colours, other.signature[1]) <= colour_max_diff:
                    best, best_dist = other, d
        passed = best_dist > max_distance
        nearest = min(best_dist, PHASH_BANDS)
        c.verdicts.append(VerdictRecord(c.record.key, "phash_dedup", FILTER_VERSION, float(nearest), float(max_distance), passed))
        if not passed:
            c.record = replace(c.record, status="rejected", **own_size(c.record),
                               reason=f"phash_dedup: near duplicate of {best.record.key} (Hamming distance {best_dist})")
            c.record.meta["near_duplicate_of"] = best.record.key
            continue
        store_signature(c.record, phash, colour)
        found[i] = True
