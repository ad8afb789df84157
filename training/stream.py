"""Streaming training data: a manifest's encoded shards, read a batch at a time.

Every rank computes the same global batch plan from shard headers only (which samples, how many
tokens each), then reads the payload of its own share of each batch:

    shards in a per-epoch order -> samples in file order -> shuffle buffer -> token-budget buckets
    -> global batch b -> rank r takes samples r, r + world, ... ; loader worker w takes batches
    w, w + workers, ...

So ranks and workers never overlap, one process with the global batch sees exactly what N ranks
see together, and a position (epoch, batch) is enough to resume: the plan is recomputed and the
batches before it skipped without reading their payload. Memory holds the key index (8 bytes per
manifest member), one shard's header table, the shuffle buffer of references and the batches
being filled (at most two per length bucket): flat as the manifest grows. VAE moments give a fresh latent per epoch, drawn with a
generator seeded by (seed, epoch, key), so the draw does not depend on rank or worker.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import gc
import itertools
import hashlib
import io
import json
import logging
import math
import os
import tarfile
import time
from collections import Counter, OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from contracts.members import CAP_FEATS, CAP_MASK, FRAME_COND, LATENT, META, MOMENTS, member, split_member
from training.buckets import BatchBudget, TokenBudgetBatcher, padding_fraction
from training.data import Example, collate

log = logging.getLogger(__name__)


def key_hash(key: str) -> int:
    """64 bits of the key's MD5: DuckDB's md5_number_lower(key), so the catalog hashes a manifest's keys."""
    return int.from_bytes(hashlib.md5(key.encode()).digest()[8:], "little")


def mix_seed(*parts: int | str) -> int:
    """A 63-bit seed from several parts (seed, epoch, key, ...): stable across processes."""
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "little") >> 1


@dataclass(frozen=True)
class Loc:
    shard: str
    offset: int
    size: int


@dataclass(frozen=True)
class SampleRef:
    """Where one sample's members lie; no payload."""

    key: str
    shape: tuple[int, ...]  # model-space latent shape [C, T, H, W] (moments: half the stored channels)
    tokens: int
    latent: Loc
    stochastic: bool  # the latent member holds VAE moments
    meta: Loc
    cap_feats: Loc
    cap_mask: Loc
    frame_cond: Loc | None


# A saved Position indexes the batch plan it was made with: bump this whenever epoch_plan orders
# or groups an epoch's batches differently, so a resume across the change can say so.
# 1: leftovers packed within the bucket ratio; 2: packed up to the budget and shuffled (d311934);
# 3: each bucket's last full batch held back to the epoch's tail, and a pack of one given a partner;
# 4: that partner the side adding the fewest [PAD] tokens (3 compared the sides' totals);
# 5: where neither neighbouring pack can take a lone sample, the packs further out are tried
PLAN_VERSION = 5


@dataclass(frozen=True, order=True)
class Position:
    """The next global batch to train on: batch `index` of epoch `epoch`."""

    epoch: int = 0
    index: int = 0


@dataclass(frozen=True)
class PlanSettings:
    """What an epoch's batch plan depends on besides the manifest and the model's token count."""

    seed: int
    shuffle_buffer: int
    budget: BatchBudget

    def to_json(self) -> dict:
        return {"seed": self.seed, "shuffle_buffer": self.shuffle_buffer, **dataclasses.asdict(self.budget)}

    @classmethod
    def from_json(cls, d: dict) -> "PlanSettings":
        d = dict(d)
        return cls(d.pop("seed"), d.pop("shuffle_buffer"), BatchBudget(**d))


@dataclass(frozen=True)
class EpochHead:
    """The batches an epoch began with under other plan settings: a resume that changed them mid-epoch
    keeps the batches already trained on, `count` per segment, and plans the rest of the epoch under
    the new settings over the samples not drawn yet, so each sample still comes once in it."""

    epoch: int
    segments: tuple[tuple[PlanSettings, int], ...]

    def to_json(self) -> dict:
        return {"epoch": self.epoch, "segments": [[s.to_json(), n] for s, n in self.segments]}

    @classmethod
    def from_json(cls, d: dict | None) -> "EpochHead | None":
        if not d:
            return None
        return cls(int(d["epoch"]), tuple((PlanSettings.from_json(s), int(n)) for s, n in d["segments"]))


def replanned_head(head: EpochHead | None, position: Position, before: PlanSettings,
                   now: PlanSettings) -> EpochHead | None:
    """The epoch head a resume at `position` continues with, when the stopped run planned with
    `before` (and began its epoch with `head`) and this one plans with `now`."""
    segments = list(head.segments) if head is not None and head.epoch == position.epoch else []
    done = position.index - sum(n for _, n in segments)
    if before != now and done > 0:
        segments.append((before, done))
    return EpochHead(position.epoch, tuple(segments)) if segments else None


class TextElsewhere:
    """Where the text features of members re-encoded elsewhere lie (not beside their latent), as
    sorted key hashes and shard numbers: 12 bytes a member, where a dict of key -> (shard, member)
    took ~350 (a manifest whose text was all re-encoded with another encoder is every member). A
    member named other than ``<key>.cap_feats.npy`` is kept by name (rare)."""

    def __init__(self, batches: Iterable[tuple[list[str], np.ndarray, np.ndarray, list]] = ()):
        """``batches``: (shard names, each row's index into them, each row's key hash, each row's
        member or None for ``<key>.cap_feats.npy``)."""
        ids: dict[str, int] = {}
        hashes, codes, self.members = [], [], {}
        for names, rows, row_hashes, members in batches:
            at = np.array([ids.setdefault(n, len(ids)) for n in names], np.int32)
            codes.append(at[np.asarray(rows, np.int64)] if len(at) else np.zeros(0, np.int32))
            hashes.append(np.asarray(row_hashes, np.uint64))
            self.members.update((int(h), m) for h, m in zip(hashes[-1], members) if m is not None)
        hashes_ = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
        order = np.argsort(hashes_, kind="stable")
        self.hashes = hashes_[order]
        self.codes = (np.concatenate(codes) if codes else np.zeros(0, np.int32))[order]
        self.shards = list(ids)

    @classmethod
    def of(cls, where: dict[str, tuple[str, str]]) -> "TextElsewhere":
        """From key -> (shard, member)."""
        items = list(where.items())
        names = sorted({shard for _, (shard, _) in items})
        at = {n: i for i, n in enumerate(names)}
        return cls([(names, np.array([at[shard] for _, (shard, _) in items], np.int64),
                     np.array([key_hash(k) for k, _ in items], np.uint64),
                     [None if m == member(k, CAP_FEATS) else m for k, (_, m) in items])])

    def get(self, key: str) -> tuple[str, str] | None:
        """(shard, member) of `key`'s text features, if not beside its latent."""
        if not len(self.hashes):
            return None
        h = key_hash(key)
        i = int(np.searchsorted(self.hashes, np.uint64(h)))
        if i == len(self.hashes) or int(self.hashes[i]) != h:
            return None
        return self.shards[int(self.codes[i])], self.members.get(h, member(key, CAP_FEATS))

    def __len__(self) -> int:
        return len(self.hashes)

    def nbytes(self) -> int:
        return self.hashes.nbytes + self.codes.nbytes

    def _table(self) -> set:
        return {(int(h), self.shards[int(c)], self.members.get(int(h))) for h, c in zip(self.hashes, self.codes)}

    def __eq__(self, other) -> bool:
        if isinstance(other, dict):
            other = TextElsewhere.of(other)
        return isinstance(other, TextElsewhere) and len(self) == len(other) and self._table() == other._table()


class ManifestIndex:
    """The manifest reduced to what streaming needs: per shard, the sorted hashes of its member keys.

    ``ManifestIndex.from_catalog`` reads it from the catalog in batches of (shard, key hash), hashed
    by DuckDB, so a trainer never holds the manifest's keys, paths or metadata as Python objects
    (about 3 KB per member; the index is 8 bytes per member); ``ManifestIndex(manifest)`` indexes
    a manifest already in memory."""

    def __init__(self, manifest=None, *, manifest_id: str | None = None,
                 hashed: Iterable[tuple[list[str], np.ndarray, np.ndarray]] = (),
                 text_elsewhere: "dict[str, tuple[str, str]] | TextElsewhere | None" = None,
                 shapes: Iterable[tuple[str, Iterable[int], int]] | None = None):
        """``hashed``: chunks of (shard names, each row's index into them, each row's key hash);
        ``shapes``: (shard, stored latent shape, members) rows, the shapes the catalog records for the
        manifest's latents where its encodings still name the manifest's shard and member, kept as
        8-byte hashes (one a shape a shard), so that a shard written again at another size under the
        same path is named, not planned from. A shard some of whose members the catalog has since
        recorded elsewhere (curated again with other options: the key's encoding row moved to the new
        shard, at its shape) is not checked. None: nothing checked (a manifest in memory records no shapes)."""
        if manifest is not None:
            members = manifest.members
            manifest_id = manifest.id
            names = sorted({m.encodings["latent"][0] for m in members})
            at = {n: i for i, n in enumerate(names)}
            hashed = [(names, np.array([at[m.encodings["latent"][0]] for m in members], np.int64),
                       np.array([key_hash(m.key) for m in members], np.uint64))]
            text_elsewhere = {m.key: m.encodings["text"] for m in members
                              if m.encodings["text"] != (m.encodings["latent"][0], member(m.key, CAP_FEATS))}
        self.text_elsewhere = (text_elsewhere if isinstance(text_elsewhere, TextElsewhere)
                               else TextElsewhere.of(text_elsewhere or {}))
        shard_ids: dict[str, int] = {}
        hashes, codes = [], []
        for names, rows, row_hashes in hashed:
            ids = np.array([shard_ids.setdefault(n, len(shard_ids)) for n in names], np.int64)
            codes.append(ids[np.asarray(rows, np.int64)] if len(ids) else np.zeros(0, np.int64))
            hashes.append(np.asarray(row_hashes, np.uint64))
        hashes = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
        codes = np.concatenate(codes) if codes else np.zeros(0, np.int64)
        order = np.lexsort((hashes, codes))  # by shard, then hash: one sorted run per shard
        hashes, codes = hashes[order], codes[order]
        bounds = np.searchsorted(codes, np.arange(len(shard_ids) + 1))
        names = list(shard_ids)
        self.keys = {names[i]: np.unique(hashes[bounds[i]:bounds[i + 1]]) for i in range(len(names))}
        self.shards = sorted(self.keys)
        self.num_samples = len(hashes)
        self.manifest_id = manifest_id
        shapes = None if shapes is None else list(shapes)
        self.shapes = None if shapes is None else self._shape_hashes(shapes)
        # stored latent shape -> members the catalog records at it (every shard together): a small table
        # (a corpus has few sizes; speech at most one a frame count), from which the trainer knows the
        # manifest's token counts before a batch is planned; None where the catalog gave no shapes
        self.shape_counts: Counter[tuple[int, ...]] | None = None
        if shapes is not None:
            self.shape_counts = Counter()
            for _, shape, n in shapes:
                self.shape_counts[tuple(shape)] += int(n)
        self.recorded_bytes: dict[str, int] | None = None  # every shard the manifest reads -> its size in the catalog
        self.checked = False  # check_shards found each at that size: every reader holds it to it

    @classmethod
    def from_catalog(cls, catalog, name: str, version: int | None = None,
                     batch_rows: int = 65_536) -> "ManifestIndex":
        from catalog import Catalog

        with Catalog.open(catalog, read_only=True) as cat:
            head = cat.manifest_header(name, version)
            hashed = cat.manifest_latent_hashes(head.name, head.version, batch_rows)
            index = cls(manifest_id=head.id, hashed=hashed,
                        text_elsewhere=TextElsewhere(cat.manifest_text_elsewhere_hashes(head.name, head.version,
                                                                                         "." + CAP_FEATS, batch_rows)),
                        shapes=cat.sql(_RECORDED_SHAPES, [head.name, head.version])[1])
            index.recorded_bytes = dict(cat.sql(_RECORDED_BYTES, [head.name, head.version])[1])
        return index

    def check_shards(self) -> None:
        """Every shard the manifest reads is there at the size the catalog records (one stat a shard):
        one deleted or cut short since it was encoded is named before training starts, not when an
        epoch's plan reaches it, hours into a run. From then on every reader of this index (the
        trainer's, each loader worker's) holds each shard to that size, so a shard that changes
        during the run stops it wherever it is read again, and no loader process plans from the new
        file while another planned from the old one. A no-op for an index without recorded sizes."""
        if self.recorded_bytes is None:
            return
        bad: list[DamagedShard] = []
        for shard, want in sorted(self.recorded_bytes.items()):
            try:
                size = os.stat(shard).st_size
            except OSError as e:
                bad.append(unreadable_shard(shard, e))
                continue
            if size != want:
                bad.append(DamagedShard(f"encoded shard {shard} is {size} bytes where the catalog records {want} "
                                        f"(cut short or written again since it was encoded): {REWRITE}"))
        if bad:
            more = (f"; {len(bad) - 1} more of manifest {self.manifest_id}'s {len(self.recorded_bytes)} shards are "
                    f"missing or changed too" if len(bad) > 1 else "")
            raise DamagedShard(str(bad[0]) + more)
        self.checked = True

    def checked_size(self, shard: str) -> int | None:
        """The size check_shards found `shard` at (the catalog's), or None."""
        return self.recorded_bytes.get(shard) if self.checked and self.recorded_bytes is not None else None

    def nbytes(self) -> int:
        return (sum(a.nbytes for a in self.keys.values()) + self.text_elsewhere.nbytes()
                + (0 if self.shapes is None else self.shapes.nbytes))

    def _shape_hashes(self, rows: Iterable[tuple[str, Iterable[int], int]]) -> np.ndarray:
        by_shard: dict[str, list] = {}
        for shard, shape, n in rows:
            by_shard.setdefault(shard, []).append((shape, n))
        out = []
        for shard, found in by_shard.items():
            if shard in self.keys and sum(n for _, n in found) == len(self.keys[shard]):  # every member's shape known
                out += [shape_hash(shard, ())] + [shape_hash(shard, shape) for shape, _ in found]
        return np.unique(np.array(out, np.uint64))

    def records_shape(self, shard: str, stored: tuple[int, ...]) -> bool:
        """Does the catalog record this stored latent shape for a manifest member in `shard` (True
        where the index knows no shapes for the shard)?"""
        return (self.shapes is None or not _holds(self.shapes, shape_hash(shard, ()))
                or _holds(self.shapes, shape_hash(shard, stored)))

    def wants(self, shard: str, key: str) -> bool:
        keys = self.keys[shard]
        h = np.uint64(key_hash(key))
        i = int(np.searchsorted(keys, h))
        return i < len(keys) and keys[i] == h


# the stored latent shapes the catalog recorded, at encoding, for a manifest's latents (where the encoding
# row still names the manifest's shard and member): one row a shard and shape, with its member count
_RECORDED_SHAPES = """SELECT me.shard_uri, e.shape, count(*) FROM manifest_encodings me
JOIN encodings e ON e.key = me.key AND e.encoder_fingerprint = me.encoder_fingerprint AND e.kind = me.kind
 AND e.shard_uri = me.shard_uri AND e.member = me.member
WHERE me.manifest = ? AND me.version = ? AND me.kind = 'latent' GROUP BY ALL"""
# the size the catalog records for each shard a manifest reads (latents and text)
_RECORDED_BYTES = """SELECT DISTINCT me.shard_uri, s.bytes FROM manifest_encodings me JOIN shards s ON s.uri = me.shard_uri
WHERE me.manifest = ? AND me.version = ?"""


def shape_hash(shard: str, shape: Iterable[int]) -> int:
    return key_hash(shard + "\0" + ",".join(str(int(d)) for d in shape))


def _holds(sorted_hashes: np.ndarray, h: int) -> bool:
    i = int(np.searchsorted(sorted_hashes, np.uint64(h)))
    return i < len(sorted_hashes) and int(sorted_hashes[i]) == h


def _tar_table(path: str) -> dict[str, tuple[int, int]]:
    """member name -> (data offset, size), from the tar headers only. Read 512-byte header by header:
    tarfile's parsing was 87% of planning an epoch (a resume recomputes the plan up to its position:
    ~260 us a sample, most of an hour for a 10M-sample epoch); an archive this reader does not know
    (a sparse or multi-volume member, a bad checksum) goes through tarfile."""
    try:
        try:
            return _scan_tar_headers(path)
        except (_UnknownTar, ValueError) as e:
            if isinstance(e, DamagedShard):
                raise
        try:
            with tarfile.open(path, "r:") as tar:  # plain tar only: members are read by offset
                return {info.name: (info.offset_data, info.size) for info in tar if info.isfile()}
        except (tarfile.TarError, EOFError) as e:  # truncated or overwritten: say which of thousands of shards
            raise DamagedShard(f"encoded shard {path} cannot be read ({e}): it is damaged (a copy cut short?); "
                               f"{REWRITE}") from e
    except OSError as e:  # deleted, moved, or a disk's read error: the path, not errno's bare line
        raise unreadable_shard(path, e) from e


# what a user does about a damaged or missing encoded shard (lumina encode writes a missing or cut-short one again)
REWRITE = "delete it and run lumina encode again, which writes it anew"


def unreadable_shard(path: str, e: OSError) -> "DamagedShard":
    """The one-line error for an encoded shard the system will not open or read."""
    if isinstance(e, FileNotFoundError):
        return DamagedShard(f"encoded shard {path} is missing (deleted or moved since the manifest was frozen?): put it "
                            f"back, or run lumina encode again, which writes it anew; the manifest needs all its shards")
    return DamagedShard(f"encoded shard {path} cannot be read ({e.strerror or e}): a disk or permission problem? "
                        f"check the file, or {REWRITE}")


class DamagedShard(ValueError):
    """An encoded shard the loader cannot read: a one-line error naming it."""


class _UnknownTar(Exception):
    pass


_SCAN_CHUNK, _ZERO_BLOCK = 1 << 16, bytes(512)
_REGULAR, _DIRECTORY_LIKE = (b"0", b"\0", b"7"), (b"1", b"2", b"3", b"4", b"5", b"6")


def _scan_tar_headers(path: str) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    long_name: str | None = None
    window, at = b"", 0  # a chunk of the file from offset `at`: small members' headers come many to a read

    def read(offset: int, n: int, ahead: int) -> bytes:
        nonlocal window, at
        if not (at <= offset and offset + n <= at + len(window)):
            f.seek(offset)
            window, at = f.read(max(n, ahead)), offset
        return window[offset - at:offset - at + n]

    with open(path, "rb") as f:
        file_size = os.fstat(f.fileno()).st_size
        pos, step = 0, 0
        while True:
            # read ahead after a small member (the next header is likely near), not past a large one
            block = read(pos, 512, _SCAN_CHUNK if step < _SCAN_CHUNK // 8 else 512)
            if block == _ZERO_BLOCK:
                return out  # end of archive (two zero blocks; one is enough to stop)
            if len(block) < 512:  # the file ends where a header or the end-of-archive blocks should be: a tar
                # cut short at a member boundary reads as a shorter valid archive (tarfile takes it so), and
                # its lost samples were only warned of as "not in their shards", the epoch planned without them
                raise DamagedShard(f"encoded shard {path} is cut short ({file_size} bytes, ending after "
                                   f"{len(out)} members without the end-of-archive blocks every tar ends with): "
                                   f"it is damaged (a copy cut short?); {REWRITE}")
            if _tar_number(block[148:156]) != sum(block) - sum(block[148:156]) + 256:
                raise _UnknownTar(path)
            size = _tar_number(block[124:136])
            kind = block[156:157]
            # links and directories carry no data whatever their size field says (ustar lets a
            # directory's size be an allocation hint); tarfile skips none either
            step = 512 if kind in _DIRECTORY_LIKE else 512 + -(-size // 512) * 512
            data, pos = pos + 512, pos + step
            if kind not in _DIRECTORY_LIKE and data + size > file_size:  # cut short (a tar still being written)
                raise _UnknownTar(path)
            if kind in (b"L", b"x"):  # the next member's name: GNU long name, or a pax header's path record
                payload = read(data, size, 512)
                long_name = (payload.rstrip(b"\0").decode("utf-8", "surrogateescape") if kind == b"L"
                             else _pax_path(payload, long_name))
                continue
            if kind == b"g":  # a global pax header: its comment (git archive writes one) names nobody
                if _pax_path(read(data, size, 512), None) is not None:  # tarfile gives later pax members this path
                    raise _UnknownTar("global pax path")
                continue
            if kind in _DIRECTORY_LIKE:
                long_name = None
                continue
            if kind not in _REGULAR:
                raise _UnknownTar(path)
            name = long_name
            if name is None:
                name = block[:100].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                if block[257:263] == b"ustar\0" and block[345] != 0:  # POSIX's name prefix (GNU keeps times there)
                    name = block[345:500].split(b"\0", 1)[0].decode("utf-8", "surrogateescape") + "/" + name
            if not name.endswith("/"):  # an old tar's directory
                out[name] = (data, size)
            long_name = None


def _tar_number(field: bytes) -> int:
    if field[0] & 0x80:  # base-256 (GNU), for members of 8 GiB and more
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = field.rstrip(b"\0 ").strip()
    return int(text, 8) if text else 0


def _pax_path(payload: bytes, current: str | None) -> str | None:
    """The path record of a pax extended header ("<len> path=<name>\\n" records), else `current`."""
    i = 0
    while i < len(payload):
        space = payload.index(b" ", i)
        length = int(payload[i:space])
        if length <= space - i or i + length > len(payload):  # a damaged record (the checksum does not cover it)
            raise _UnknownTar("pax record length")
        key, _, value = payload[space + 1:i + length - 1].partition(b"=")
        if key == b"path":
            current = value.decode("utf-8", "surrogateescape")
        elif key in (b"size", b"GNU.sparse.size", b"GNU.sparse.major"):  # members this reader does not size
            raise _UnknownTar("pax " + key.decode())
        i += length
    return current


@functools.lru_cache(maxsize=1024)
def _parse_header(header: bytes) -> tuple[np.dtype, tuple[int, ...], bool]:
    d = ast.literal_eval(header.decode("latin1"))
    return np.dtype(d["descr"]), tuple(d["shape"]), bool(d["fortran_order"])


def _npy_header(buf: bytes) -> tuple[np.dtype, tuple[int, ...], bool, int]:
    """(dtype, shape, fortran, data offset) of .npy bytes. np.load parses every header with
    ast.literal_eval (~0.3 ms); samples of a corpus share a few headers, so they are parsed once."""
    if buf[:6] != b"\x93NUMPY":
        raise ValueError("not an .npy member")
    n, start = (int.from_bytes(buf[8:10], "little"), 10) if buf[6] == 1 else (int.from_bytes(buf[8:12], "little"), 12)
    dtype, shape, fortran = _parse_header(bytes(buf[start:start + n]))
    return dtype, shape, fortran, start + n


def npy_load(data: bytes) -> np.ndarray:
    """A read-only view of .npy bytes (plain dtypes only, which is all the encode stage writes)."""
    dtype, shape, fortran, off = _npy_header(data)
    arr = np.frombuffer(data, dtype=dtype, count=math.prod(shape), offset=off)
    return arr.reshape(shape, order="F" if fortran else "C")


def _decoded(shard: str, what: str, decode: Callable):
    """decode(), with a member whose bytes do not decode (a bit flipped on disk, a block overwritten)
    named in one line: it was numpy's or json's bare error, or ast's SyntaxError and a traceback."""
    try:
        return decode()
    except DamagedShard:
        raise
    except OSError as e:
        raise unreadable_shard(shard, e) from e
    except (ValueError, SyntaxError, KeyError, TypeError, IndexError) as e:
        raise DamagedShard(f"encoded shard {shard}: member {what} does not decode ({type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else ''}): the shard is damaged; {REWRITE}") from e


def _npy_shape(f, offset: int) -> tuple[int, ...]:
    f.seek(offset)
    return _npy_header(f.read(4096))[1]


class ShardReader:
    """Reads members by offset; keeps a few shards open and a few header tables."""

    def __init__(self, max_open: int = 8, known: Callable[[str], int | None] | None = None):
        """``known``: a shard's size as checked before the run (ManifestIndex.checked_size), or None."""
        self.files: OrderedDict[str, io.BufferedReader] = OrderedDict()
        self.tables: OrderedDict[str, dict[str, tuple[int, int]]] = OrderedDict()
        self.max_open = max_open
        # each shard's size when checked before the run, else when first opened or scanned: a plan's
        # offsets (in the shuffle buffer, in a cached table) belong to that file, and read in another
        # they gave another sample's bytes or a bare numpy error; one int a shard
        self.sizes: dict[str, int] = {}
        self.known = known

    def _same_size(self, shard: str, size: int) -> None:
        first = self.sizes.get(shard)
        if first is None:
            first = self.sizes[shard] = (self.known(shard) if self.known is not None else None) or size
        if size != first:
            raise DamagedShard(f"encoded shard {shard} changed while training read it ({first} bytes at first, "
                               f"{size} now: cut short or rewritten?): if it is damaged, {REWRITE}; lumina train "
                               f"--resume then plans again from the shards as they are")

    def file(self, shard: str):
        f = self.files.pop(shard, None)
        if f is None:
            try:
                f = open(shard, "rb")
                size = os.fstat(f.fileno()).st_size
            except OSError as e:
                raise unreadable_shard(shard, e) from e
            try:
                self._same_size(shard, size)
            except DamagedShard:
                f.close()
                raise
        self.files[shard] = f
        while len(self.files) > self.max_open:
            self.files.popitem(last=False)[1].close()
        return f

    def table(self, shard: str) -> dict[str, tuple[int, int]]:
        t = self.tables.pop(shard, None)
        if t is None:
            t = _tar_table(shard)
            try:
                self._same_size(shard, os.stat(shard).st_size)
            except OSError as e:
                raise unreadable_shard(shard, e) from e
        self.tables[shard] = t
        while len(self.tables) > self.max_open:
            self.tables.popitem(last=False)
        return t

    def loc(self, shard: str, name: str) -> Loc:
        table = self.table(shard)
        if name not in table:  # the catalog says it is there: a shard cut short, or another file by its name
            raise DamagedShard(f"encoded shard {shard} has no member {name} ({len(table)} members), though the "
                               f"catalog lists it there: delete the shard and run lumina encode again, which writes it anew")
        off, size = table[name]
        return Loc(shard, off, size)

    def read(self, loc: Loc) -> bytes:
        f = self.file(loc.shard)
        try:
            f.seek(loc.offset)
            data = f.read(loc.size)
        except OSError as e:  # a disk's read error (EIO): the shard, not errno's bare line
            raise unreadable_shard(loc.shard, e) from e
        if len(data) != loc.size:  # cut short after its headers were read (the plan, or an earlier epoch's)
            raise DamagedShard(f"encoded shard {loc.shard} ends before the member at byte {loc.offset} it held when "
                               f"training planned from it: it was cut short or rewritten during the run; {REWRITE}")
        return data

    def close(self) -> None:
        for f in self.files.values():
            f.close()
        self.files.clear()


class ShardStream:
    """The global batch plan of a manifest and the reading of one rank's share of a batch."""

    def __init__(self, index: ManifestIndex, budget: BatchBudget, tokens_of: Callable[[tuple[int, ...]], int],
                 seed: int = 0, shuffle_buffer: int = 1024):
        self.index, self.budget, self.tokens_of = index, budget, tokens_of
        self.seed, self.shuffle_buffer = seed, shuffle_buffer
        self.reader = ShardReader(known=index.checked_size)
        self.head: EpochHead | None = None  # a re-planned epoch's first batches (a resume that changed the settings)
        self.says_missing = True  # warn of manifest members missing from their shards (one process per run does)

    def under(self, settings: PlanSettings) -> "ShardStream":
        """This stream planning with other settings (the same index, token count and reader)."""
        other = ShardStream(self.index, settings.budget, self.tokens_of, settings.seed, settings.shuffle_buffer)
        other.reader = self.reader
        return other

    # ------------------------------------------------------------------ plan (headers only)

    def shard_refs(self, shard: str) -> Iterator[SampleRef]:
        """The manifest's samples in one shard, in file order."""
        table = self.reader.table(shard)
        f = self.reader.file(shard)
        recorded: set[tuple[int, ...]] = set()  # this shard's shapes the catalog records: checked once each
        for name, (off, size) in table.items():
            key, field = split_member(name)
            if field not in (LATENT, MOMENTS) or not self.index.wants(shard, key):
                continue
            stored = _decoded(shard, name, lambda: _npy_shape(f, off))
            if stored not in recorded:
                if not self.index.records_shape(shard, stored):
                    raise DamagedShard(
                        f"encoded shard {shard} holds {name} at shape {list(stored)}, which the catalog records for "
                        f"none of manifest {self.index.manifest_id}'s samples in it: the shard was written again since "
                        f"(another size or encoder?); {REWRITE} with the manifest's encoders, or train on a manifest "
                        f"frozen on the current encodings")
                recorded.add(stored)
            stochastic = field == MOMENTS
            shape = (stored[0] // 2, *stored[1:]) if stochastic else stored
            if (elsewhere := self.index.text_elsewhere.get(key)) is not None:
                tshard, tmember = elsewhere
                feats, mask = self.reader.loc(tshard, tmember), self.reader.loc(tshard, member(split_member(tmember)[0], CAP_MASK))
            else:
                feats, mask = Loc(shard, *table[member(key, CAP_FEATS)]), Loc(shard, *table[member(key, CAP_MASK)])
            cond = table.get(member(key, FRAME_COND))
            yield SampleRef(key, shape, self.tokens_of(shape), Loc(shard, off, size), stochastic,
                            Loc(shard, *table[member(key, META)]), feats, mask, None if cond is None else Loc(shard, *cond))

    def first_ref(self) -> SampleRef:
        """The first manifest sample of the first shard (the trainer sizes its model by it); a shard
        that holds none of the samples the catalog lists in it is named (a bare StopIteration, exit 1)."""
        shard = self.index.shards[0]
        ref = next(self.shard_refs(shard), None)
        if ref is None:
            raise DamagedShard(f"encoded shard {shard} holds none of the {len(self.index.keys[shard])} samples of manifest "
                               f"{self.index.manifest_id} the catalog lists in it: it was written again since (by another "
                               f"curation or encode?); {REWRITE}")
        return ref

    def _shuffled(self, epoch: int, drawn: np.ndarray | None = None) -> Iterator[SampleRef]:
        rng = np.random.default_rng([self.seed, epoch])
        buffer: list[SampleRef] = []
        found = 0
        short: dict[str, int] = {}  # shard -> the manifest's samples listed in it that it does not hold
        for s in rng.permutation(len(self.index.shards)):
            shard, held = self.index.shards[int(s)], 0
            for ref in self.shard_refs(shard):
                held += 1
                if drawn is not None and len(drawn) and _holds(drawn, key_hash(ref.key)):
                    continue
                found += 1
                if len(buffer) < self.shuffle_buffer:
                    buffer.append(ref)
                    continue
                j = int(rng.integers(len(buffer)))
                buffer[j], ref = ref, buffer[j]
                yield ref
            if held < len(self.index.keys[shard]):
                short[shard] = len(self.index.keys[shard]) - held
        for j in rng.permutation(len(buffer)):
            yield buffer[int(j)]
        expected = sum(len(k) for k in self.index.keys.values()) - (0 if drawn is None else len(drawn))
        if found < expected and self.says_missing:
            self.says_missing = False
            worst = max(sorted(short), key=short.get) if short else None  # the shard to look at first
            where = "" if worst is None else (f"; {short[worst]} of them listed in {worst}" + (
                f" (and {len(short) - 1} more shard{'s' if len(short) > 2 else ''})" if len(short) > 1 else ""))
            log.warning("epoch %d drew %d of manifest %s's %d samples: %d are in the catalog but not in their shards "
                        "(a shard rewritten or cut since it was encoded?)%s; training goes on without them (said once)",
                        epoch, found, self.index.manifest_id, expected, expected - found, where)

    def epoch_plan(self, epoch: int, drawn: np.ndarray | None = None) -> Iterator[list[SampleRef]]:
        """The global batches of one epoch, the same on every rank and worker; without the samples
        whose key hashes are in `drawn` (sorted)."""
        batcher = TokenBudgetBatcher(self.budget, lambda r: r.tokens)
        for ref in self._shuffled(epoch, drawn):
            for batch in batcher.add(ref):
                if len(batch) >= self.budget.min_samples:
                    yield batch
        # the leftovers' packs come sorted by length: an epoch must not end on its longest samples
        # (nor on the held batches in the order their buckets filled)
        rest = batcher.flush()
        for j in np.random.default_rng([self.seed, epoch, 1]).permutation(len(rest)):
            yield rest[int(j)]

    def plan(self, start: Position = Position()) -> Iterator[tuple[Position, list[SampleRef]]]:
        """(position, global batch) from `start` on, epoch after epoch."""
        for position, batch, _ in self.plan_with_ends(start):
            yield position, batch

    def plan_with_ends(self, start: Position = Position()) -> Iterator[tuple[Position, list[SampleRef], bool]]:
        """(position, global batch, whether it is its epoch's last) from `start` on: each batch is
        handed on once the epoch's next one is planned (headers only), so the trainer can sum up an
        epoch at its last step."""
        epoch = start.epoch
        while True:
            batches = self._epoch_batches(epoch)
            batch = next(batches, None)
            if batch is None:
                raise ValueError(f"manifest {self.index.manifest_id} gives no batch of at least {self.budget.min_samples} samples")
            for i, following in enumerate(itertools.chain(batches, [None])):
                if epoch > start.epoch or i >= start.index:
                    yield Position(epoch, i), batch, following is None
                batch = following
            epoch += 1

    def _epoch_batches(self, epoch: int) -> Iterator[list[SampleRef]]:
        """The epoch's plan; a re-planned epoch's head first, then the rest over what it left."""
        if self.head is None or self.head.epoch != epoch:
            yield from self.epoch_plan(epoch)
            return
        drawn = np.zeros(0, np.uint64)
        for settings, count in self.head.segments:
            taken: list[int] = []
            for batch in itertools.islice(self.under(settings).epoch_plan(epoch, drawn), count):
                taken.extend(key_hash(r.key) for r in batch)
                yield batch
            drawn = np.union1d(drawn, np.array(taken, np.uint64))
        yield from self.epoch_plan(epoch, drawn)

    # ------------------------------------------------------------------ payload

    def example(self, ref: SampleRef, epoch: int) -> Example:
        from encoders.latent import draw_latent

        def load(loc: Loc, field: str, decode=npy_load):
            return _decoded(loc.shard, member(ref.key, field), lambda: decode(self.reader.read(loc)))

        meta = load(ref.meta, META, json.loads)
        stored = load(ref.latent, MOMENTS if ref.stochastic else LATENT).astype(np.float32)  # a writable copy
        if ref.stochastic:
            info = {"stochastic": True, "scale": meta.get("latent_scale", 1.0), "shift": meta.get("latent_shift", 0.0)}
            latent = draw_latent(stored, info, torch.Generator().manual_seed(mix_seed(self.seed, epoch, ref.key)))
        else:
            latent = torch.from_numpy(stored)
        cond = None if ref.frame_cond is None else torch.from_numpy(load(ref.frame_cond, FRAME_COND).astype(np.float32))
        return Example(key=ref.key, latent=latent,
                       cap_feats=torch.from_numpy(load(ref.cap_feats, CAP_FEATS).astype(np.float32)),
                       cap_mask=torch.from_numpy(load(ref.cap_mask, CAP_MASK).copy()),
                       caption=meta.get("caption", ""), split=meta.get("split", ""), meta=meta, frame_cond=cond)

    def rank_batch(self, position: Position, refs: list[SampleRef], rank: int = 0, world: int = 1,
                   epoch_ends: bool = False) -> dict:
        """One rank's share of a global batch, collated, with what the trainer needs besides
        (``epoch_ends``: it is its epoch's last batch)."""
        mine = list(range(rank, len(refs), world))
        weight = 1.0
        if not mine:  # fewer samples than ranks (an epoch's tail, a long sample under a token budget):
            # every rank must step, so this one runs a stand-in whose loss counts zero
            mine, weight = [rank % len(refs)], 0.0
        examples = [self.example(refs[i], position.epoch) for i in mine]
        lengths = [r.tokens for r in refs]
        return {"batch": collate(examples), "keys": [e.key for e in examples], "positions": mine, "global_size": len(refs),
                "weights": torch.full((len(mine),), weight), "position": position, "tokens": sum(lengths),
                "padded_tokens": len(lengths) * max(lengths), "padding": padding_fraction(lengths), "epoch_ends": epoch_ends}


class StreamingDataset(torch.utils.data.IterableDataset):
    """One rank's batches for a torch DataLoader (batch_size=None): worker w takes every workers-th batch."""

    def __init__(self, stream: ShardStream, start: Position, rank: int = 0, world: int = 1):
        super().__init__()
        self.stream, self.start, self.rank, self.world = stream, start, rank, world

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        wid, workers = (0, 1) if info is None else (info.id, info.num_workers)
        self.stream.says_missing = self.rank == 0 and wid == 0
        if info is not None:
            # forked file handles share their offsets: open our own
            self.stream.reader = ShardReader(known=self.stream.index.checked_size)
        try:
            for k, (pos, refs, last) in enumerate(self.stream.plan_with_ends(self.start)):
                if k % workers == wid:
                    yield self.stream.rank_batch(pos, refs, self.rank, self.world, epoch_ends=last)
        except ValueError as e:  # a damaged shard, a manifest that gives no batch: what lumina prints as one line
            if info is None:
                raise
            import traceback

            e.add_note(f"in loader worker {wid}:\n" + "".join(traceback.format_tb(e.__traceback__)))  # LUMINA_TRACEBACK=1
            yield WorkerError(e)  # raised whole in the training process (ClosingWorkers), in batch order


@dataclass
class WorkerError:
    """A user's error (a ValueError: a damaged shard, a manifest without a batch) met in a loader worker,
    handed to the training process as a batch would be, with the worker's traceback as a note. Raised in
    the worker, torch raised it again as "Caught DamagedShard in DataLoader worker process 0." and the
    traceback below: the one line `lumina train` prints named no shard (and a class torch cannot
    rebuild from one message, json's JSONDecodeError, came back a RuntimeError: a traceback)."""

    error: BaseException


def prefetched(batches: Iterator[dict], depth: int = 2) -> Iterator[dict]:
    """``batches`` read ahead by one background thread, in the same order. Reading a batch (tar
    headers, npy decoding, collation) is ~30 ms of Python per image-demo step; the thread does it
    while the training step runs in torch's kernels, which release the GIL. Every draw uses its own
    seeded generator, so the batches are the same as without the thread. An error in the reader is
    raised here, at the batch where it happened."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def put(item) -> bool:
        """Wait for room unless the consumer has gone; False once it has."""
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for b in batches:
                if not put(b):
                    return
            put(done)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            put(e)

    thread = threading.Thread(target=read, name="batch-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:  # the consumer stopped early (steps or time ran out): stop the reader and wait for it,
        # so no batch is half-read in torch when the process exits (that aborts it: "terminate called")
        stop.set()
        thread.join(timeout=60)


def batch_loader(stream: ShardStream, start: Position, rank: int = 0, world: int = 1, workers: int = 0):
    """Batches in plan order (DataLoader takes from its workers round-robin, so order is kept);
    without workers, read ahead by one thread in this process."""
    ds = StreamingDataset(stream, start, rank, world)
    if workers == 0:
        return prefetched(iter(ds))
    # its own generator: the workers' base seed was drawn from the global RNG the checkpoint had
    # just restored, so a resumed run's saved RNG differed from a straight run's
    loader = torch.utils.data.DataLoader(
        ds, batch_size=None, num_workers=workers, persistent_workers=False, collate_fn=lambda x: x,
        multiprocessing_context="fork", worker_init_fn=leave_stop_signals_to_the_trainer,
        generator=torch.Generator().manual_seed(0))
    with garbage_left_behind_by_fork():
        return ClosingWorkers(iter(loader))  # iter() forks the workers


@contextmanager
def garbage_left_behind_by_fork():
    """Fork inside this with what is garbage here collected first (here, where its threads live) and
    everything else out of the forked children's collector (gc.freeze; the parent unfreezes at once).
    A loader worker that collected an inherited object whose destructor needs threads that a fork does
    not copy hung for good: a gloo ProcessGroup an earlier run in the same process left in a reference
    cycle (pthread_cond_broadcast in ~ProcessGroupGloo; the full suite hung in test_trainer's resume
    with loader workers after a torch.distributed test on the same pytest worker)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


WORKER_GRACE_S = 0.5  # how long a closed loader's workers get to leave on their own before they are killed


class ClosingWorkers:
    """The DataLoader's batches; closed (the trainer's finally; also when dropped, and before the first
    batch), its workers are stopped within WORKER_GRACE_S: an idle one leaves at once, one still busy with
    a batch is killed. They ignore SIGTERM, so the DataLoader's own shutdown (a 5 s join, terminate,
    another 5 s join, one worker after the other) left a close waiting 10 s per busy worker, and a loader
    closed before its first batch left the process waiting at exit for its workers to finish theirs (a
    resume's re-planning of a long epoch: most of an hour). Killing loses nothing: a batch not yet handed
    out is not in the recorded position, so a resume reads it again."""

    def __init__(self, batches):
        self._batches = batches
        self._pid = os.getpid()  # a process forked later holds a copy: its close must not stop our workers

    def __iter__(self) -> "ClosingWorkers":
        return self

    def __next__(self) -> dict:
        if self._batches is None:
            raise StopIteration
        item = next(self._batches)
        if isinstance(item, WorkerError):
            raise item.error
        return item

    def close(self) -> None:
        batches, self._batches = self._batches, None
        if batches is not None and os.getpid() == self._pid:
            stop_workers(batches)

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter exit torch's modules may be gone already
            pass


def stop_workers(batches, grace: float = WORKER_GRACE_S) -> None:
    """Shut down a _MultiProcessingDataLoaderIter's workers without torch's waits for a busy one."""
    from torch.utils.data._utils import signal_handling

    workers = list(getattr(batches, "_workers", []))
    status = getattr(batches, "_workers_status", None)
    # a loader that pins memory (this one does not) has a thread reading what the workers send: torch
    # stops that first, so its own shutdown does it all
    if workers and status is not None and not getattr(batches, "_shutdown", True) \
            and not hasattr(batches, "_pin_memory_thread"):
        batches._workers_done_event.set()
        for i in range(len(workers)):
            if status[i]:
                batches._mark_worker_as_unavailable(i, shutdown=True)  # a None on its queue: an idle worker leaves now
        deadline = time.monotonic() + grace
        for w in workers:
            w.join(timeout=max(0.0, deadline - time.monotonic()))
        busy = [w for w in workers if w.is_alive()]
        if busy:
            if batches._worker_pids_set:  # torch's SIGCHLD check would raise for a worker it sees killed
                signal_handling._remove_worker_pids(id(batches))
                batches._worker_pids_set = False
            for w in busy:
                w.kill()
            for w in busy:
                w.join(timeout=5)
    shutdown = getattr(batches, "_shutdown_workers", None)
    if shutdown is not None:
        shutdown()  # closes the queues; unregisters the workers from the SIGCHLD check where not done above
    for w in workers:
        if w.is_alive():
            w.kill()
            w.join(timeout=5)


def leave_stop_signals_to_the_trainer(worker_id: int) -> None:
    """A loader worker ignores SIGTERM and SIGINT. They reach it too when the whole process group is
    signalled (torchrun passes a stop on with killpg, as do Slurm's scancel and a terminal's Ctrl-C),
    and torch's handler ended the worker, which took the trainer down with no checkpoint. The
    trainer stops at its step boundary and closes its workers itself (they also exit when it dies)."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
