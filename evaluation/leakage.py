"""Held-out samples that are near copies of the samples a checkpoint trained on.

Curation drops near duplicates within pHash distance 10-12 (a banded search, exact below 16), so a
lossier copy (a JPEG at quality 30, a video re-encoded at CRF 40, an object re-rendered smaller)
can be kept beside its original, and the split can put one in training and the other in the
held-out manifest: the held-out figures then flatter the model (bench/near_duplicates.py). Widening
curation's dedup would change what is accepted; evaluation instead says so, and changes no figure.

Compared: the signature curation stores in each kept sample's meta (image, multiview, video: its
middle keyframe): ``phash`` (64 hex digits, 256 bits) and ``colour_signature`` (16 cells x RGB, one
byte each, as hex). A sample without them (speech, a catalog curated before they were stored) is
not compared, and counted so. Brute force over whole hashes, in chunks: every pair, any distance.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

NEAR_COPY_BITS = 24  # whole-hash Hamming distance of a near copy here (curation's is 10-12 of 256)
# the largest 4x4-cell mean colour difference (0..255) of near copies: curation's image default
# colour_max_diff, as video's COLOUR_MAX_DIFF (evaluation imports no preprocess: test_ground_floor.py;
# tests/evaluation/test_heldout_near_train_s54j.py holds them equal)
COLOUR_MAX_DIFF = 12.0
_WORDS = 4  # 256 bits as four uint64
_PAIRS_PER_CHUNK = 1 << 21  # held-out x training pairs a step: ~16 MB of XOR words, ~2 MB of distances

# each member's stored signature (NULL where its sample has none, or no sample row)
_SIGNATURES_SQL = """
SELECT m.key, s.source_uri, json_extract_string(s.meta, '$.phash') AS phash,
       json_extract_string(s.meta, '$.colour_signature') AS colour
FROM manifest_members m LEFT JOIN samples s ON s.key = m.key
WHERE m.manifest = ? AND m.version = ?"""


@dataclass
class Signatures:
    keys: list[str]
    sources: list[str]
    hashes: np.ndarray  # [N, 4] uint64, the highest word first
    colours: np.ndarray  # [N, 16, 3] float32
    missing: int = 0  # members without a usable stored signature


@dataclass
class NearCopies:
    compared: int  # held-out samples with a signature
    not_compared: int  # held-out samples without one
    training: str  # the training manifest's id
    pairs: list[tuple[str, str, int, str, str]] = field(default_factory=list)  # (held-out key, train key, bits, their sources), nearest per held-out sample

    @property
    def found(self) -> int:
        return len(self.pairs)


def read_signatures(cat, name: str, version: int, keys: set[str] | None = None) -> Signatures:
    """The stored signatures of manifest ``name@v<version>``'s members (of ``keys`` only, if given)."""
    table = cat.sql_arrow(_SIGNATURES_SQL, [name, version]).to_pydict()
    rows = [r for r in zip(table["key"], table["source_uri"], table["phash"], table["colour"]) if keys is None or r[0] in keys]
    usable = [r for r in rows if _usable(r[2], r[3])]
    hashes = np.frombuffer(bytes.fromhex("".join(r[2] for r in usable)), ">u8").astype(np.uint64).reshape(-1, _WORDS)
    colours = np.frombuffer(bytes.fromhex("".join(r[3] for r in usable)), np.uint8).astype(np.float32).reshape(-1, 16, 3)
    return Signatures([r[0] for r in usable], [r[1] or "" for r in usable], hashes, colours, missing=len(rows) - len(usable))


def _usable(phash: str | None, colour: str | None) -> bool:
    try:
        return len(bytes.fromhex(phash or "")) == 32 and len(bytes.fromhex(colour or "")) == 48
    except ValueError:  # not hex: curated by something else
        return False


def hamming_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[n, 4] x [m, 4] uint64 hashes -> [n, m] uint16 distances."""
    out = np.zeros((len(a), len(b)), np.uint16)
    for w in range(_WORDS):
        out += np.bitwise_count(a[:, w, None] ^ b[None, :, w])
    return out


def colour_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairs of [k, 16, 3] colour signatures -> [k]: the largest cell's mean RGB difference, as
    preprocess/image/dedup.py's colour_distance."""
    return np.abs(a - b).mean(axis=-1).max(axis=-1)


def near_copies(heldout: Signatures, train: Signatures, max_bits: int = NEAR_COPY_BITS,
                colour_max_diff: float = COLOUR_MAX_DIFF) -> list[tuple[int, int, int]]:
    """(held-out index, training index, distance) of each held-out sample's nearest training sample
    within ``max_bits`` and ``colour_max_diff``, where it has one; a training sample of the same key
    (the same sample, which evaluated_split already reports) is no copy."""
    best: dict[int, tuple[int, int]] = {}
    rows = max(1, min(len(heldout.keys), _PAIRS_PER_CHUNK // max(len(train.keys), 1)))
    cols = max(1, _PAIRS_PER_CHUNK // rows)
    for i0 in range(0, len(heldout.keys), rows):
        for j0 in range(0, len(train.keys), cols):
            d = hamming_distances(heldout.hashes[i0:i0 + rows], train.hashes[j0:j0 + cols])
            i, j = np.nonzero(d <= max_bits)
            if not len(i):
                continue
            i, j = i + i0, j + j0
            same_colours = colour_distances(heldout.colours[i], train.colours[j]) <= colour_max_diff
            for a, b in zip(i[same_colours].tolist(), j[same_colours].tolist()):
                bits = int(d[a - i0, b - j0])
                if heldout.keys[a] != train.keys[b] and bits < best.get(a, (max_bits + 1, -1))[0]:
                    best[a] = (bits, b)
    return [(a, b, bits) for a, (bits, b) in sorted(best.items())]


def check_heldout_against_training(catalog: str, checkpoint: str | Path, manifest) -> NearCopies | None:
    """The held-out samples (``manifest``'s members: evaluate's, maybe cut by --max-heldout) that
    are near copies of the samples the checkpoint's training manifest (training.json) holds; None
    when the checkpoint records none (a converted release has no training.json). The training
    manifest is read from ``catalog``, else the catalog the checkpoint records."""
    from catalog import Catalog

    if not (Path(checkpoint) / "training.json").is_file():
        return None
    info = json.loads((Path(checkpoint) / "training.json").read_text())
    name, version = info.get("manifest"), info.get("manifest_version")
    if name is None or version is None:
        return None
    with Catalog.open(catalog, read_only=True) as cat:
        heldout = read_signatures(cat, manifest.name, manifest.version, {m.key for m in manifest.members})
        train = read_signatures(cat, name, version) if _has_manifest(cat, name, version) else None
    if train is None:
        recorded = (info.get("train_config") or {}).get("catalog")
        if not recorded or not Path(recorded).exists():
            raise ValueError(f"its training manifest {name}@v{version} is not in {catalog}, and the catalog it records is not reachable")
        with Catalog.open(recorded, read_only=True) as cat:
            # the recorded catalog may be this one, or one rebuilt since: without the manifest there
            # would be nothing to compare with, and "no near copy" would be said of an empty training set
            if not _has_manifest(cat, name, version):
                raise ValueError(f"its training manifest {name}@v{version} is in neither {catalog} nor the catalog it records ({recorded})")
            train = read_signatures(cat, name, version)
    if heldout.keys and not train.keys:  # else "no near copy" would be said of comparisons with nothing
        raise ValueError(f"none of the {train.missing} samples of its training manifest {name}@v{version} has a stored pHash")
    found = near_copies(heldout, train)
    return NearCopies(len(heldout.keys), heldout.missing, f"{name}@v{version}",
                      [(heldout.keys[a], train.keys[b], bits, heldout.sources[a], train.sources[b]) for a, b, bits in found])


def _has_manifest(cat, name: str, version: int) -> bool:
    _, rows = cat.sql("SELECT count(*) FROM manifest_members WHERE manifest = ? AND version = ?", [name, version])
    return rows[0][0] > 0


def leakage_note(result: NearCopies) -> str | None:
    """The warning for a reader of the figures, None when no held-out sample is a near copy."""
    if not result.found:
        return None
    heldout_key, train_key, bits, heldout_source, train_source = result.pairs[0]
    skipped = f"; {result.not_compared} without a stored pHash were not compared" if result.not_compared else ""
    return (f"{result.found} of {result.compared} held-out samples are near copies of training samples in {result.training} "
            f"(pHash within {NEAR_COPY_BITS} bits, same colours; e.g. {heldout_key} ({Path(heldout_source).name}) ~ "
            f"{train_key} ({Path(train_source).name}), {bits} bits{skipped}): the held-out figures flatter the model")


def heldout_leakage(catalog: str, checkpoint: str | Path, manifest) -> tuple[list[str], dict[str, float]]:
    """(notes, metrics) of the near-copy check of the evaluated ``manifest`` (a Manifest, maybe cut by
    --max-heldout) against the checkpoint's training data. It never fails an evaluation: an error is
    one note. Metrics only when samples were compared: heldout_near_train (held-out samples with a
    near copy in training) and heldout_near_train_compared."""
    try:
        result = check_heldout_against_training(catalog, checkpoint, manifest)
    except Exception as e:  # noqa: BLE001 - a check beside the figures: said, never fatal
        note = f"held-out samples were not checked for near copies of the training samples: {type(e).__name__}: {e}"
        log.warning("%s", note)
        return [note], {}
    if result is None:
        log.info("held-out samples not checked for near copies of training samples: the checkpoint records no training manifest")
        return [], {}
    if not result.compared:
        # a user of audio samples read "pHash" as meaning nothing: say whose samples have one
        log.info("held-out samples not checked for near copies of training samples: none of the %d has a stored pHash "
                 "(curation stores one for pictures and frames; audio samples, and catalogs curated before, have none)",
                 result.not_compared)
        return [], {}
    metrics = {"heldout_near_train": float(result.found), "heldout_near_train_compared": float(result.compared)}
    if note := leakage_note(result):
        log.warning("%s", note)
        return [note], metrics
    log.info("no held-out sample of the %d compared is a near copy of a training sample in %s (pHash within %d bits, "
             "same colours)%s", result.compared, result.training, NEAR_COPY_BITS,
             f"; {result.not_compared} without a stored pHash were not compared" if result.not_compared else "")
    return [], metrics
