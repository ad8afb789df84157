"""The takes earlier runs kept, for near-duplicate search across runs (``dedup.mark_near_duplicates``'s
``kept``): a curate or refresh compares its takes with them as video and image compare with the
catalog's stored hashes.

The catalog stores no speech fingerprint: each accepted take's is made again from the log-mel of
its curated shard (member ``mel.npy``, plugin.MEL), which the shard writer makes by the same chain as the
analysis (``curation.normalised_audio`` then ``mel.log_mel``), so ``fingerprint`` gives what the
analysis gave (tests/speech/test_dedup_across_runs.py). Only takes of a duration within the
comparison window of an accepted candidate are read (durations within 10%: ``dedup._Kept.comparable``),
and only their ``mel.npy`` members. Their duration is the catalog's (rounded to 0.1 ms).

Left out, as video's ``kept_in_catalog`` leaves them out: the candidates' own keys, the takes of the
inputs curated now (a changed transcript gives a new key for the same audio, which replaces, not
matches, the old) and those of the inputs in ``leaving`` (a refresh retires them). A curated shard
that is missing or cannot be read leaves its takes out, with one warning naming it (finding damage
is ``lumina catalog check``'s job, not the curation's).

The fingerprints are not held in memory (40 bytes a frame: 1.34 GB at 100,000 takes, bench/speech_dedup_scale.py
--rss): ``KeptFingerprints`` writes each to a file without a name beside the catalog (tempfile.TemporaryFile:
on Linux it never has one, so a killed run leaves nothing; not /tmp, which may be memory) and reads one back
when the search asks for it, as a plain read, not a memory map (a map's pages read count in the process's
resident memory until it ends: all of them after indexing). The search reads each once to index it, and
again only the few its bounds leave. Closing it (or its last reference going) frees the file.
"""

from __future__ import annotations

import logging
import math
import os
import tarfile
import tempfile
import weakref
import zlib
from array import array
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from contracts.shards import npy_load, read_members
from preprocess.speech.dedup import fingerprint

log = logging.getLogger(__name__)

WINDOW = 0.1  # durations within a tenth of the longer are compared (dedup._Kept.comparable)
SLACK = 1e-3  # the catalog's durations are rounded to 0.1 ms: the query's window is this much wider


@dataclass(frozen=True)
class KeptTake:
    """A take an earlier run kept, as ``mark_near_duplicates`` sees a candidate: ``record.key`` and
    ``signature`` (fingerprint, duration)."""

    record: SimpleNamespace
    signature: tuple[np.ndarray, float]


class KeptFingerprints:
    """Kept takes (key, fingerprint, duration) whose fingerprints lie in a file, not in memory: held here
    are their keys, durations, shapes and places in the file (some 100 bytes a take). ``fingerprint(i)``
    reads the i-th back; ``take(i)`` is its ``KeptTake``. ``mark_near_duplicates`` takes it as ``kept``.
    The file is made in ``folder`` (None: the system's temporary folder) at the first ``append`` and
    removed by ``close`` (a with block) or when this is no longer referenced."""

    def __init__(self, folder: str | os.PathLike | None = None) -> None:
        self._folder, self._file, self._close = folder, None, None
        self.keys: list[str] = []
        self._at, self._rows, self._cols, self._dur = array("q"), array("q"), array("q"), array("d")
        self._end = 0

    def append(self, key: str, fp: np.ndarray, duration: float) -> None:
        data = np.ascontiguousarray(fp, np.float16)
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="lumina-speech-kept-", suffix=".f16", dir=self._folder)
            self._close = weakref.finalize(self, self._file.close)
        self._file.seek(self._end)
        self._file.write(data.data)
        self.keys.append(key)
        self._at.append(self._end)
        self._rows.append(data.shape[0])
        self._cols.append(data.shape[1])
        self._dur.append(float(duration))
        self._end += data.nbytes

    def sort(self) -> None:
        """In key order (their data stays where it is in the file)."""
        order = sorted(range(len(self.keys)), key=self.keys.__getitem__)
        self.keys = [self.keys[i] for i in order]
        for name in ("_at", "_rows", "_cols", "_dur"):
            old = getattr(self, name)
            setattr(self, name, array(old.typecode, (old[i] for i in order)))

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def durations(self) -> np.ndarray:
        return np.frombuffer(self._dur, np.float64).copy()  # a copy: a view would stop append

    @property
    def widths(self) -> np.ndarray:
        return np.frombuffer(self._cols, np.int64).copy()

    def fingerprint(self, i: int) -> np.ndarray:
        out = np.empty((self._rows[i], self._cols[i]), np.float16)
        self._file.seek(self._at[i])
        if self._file.readinto(out.data) != out.nbytes:
            raise EOFError(f"kept fingerprint {i} ({self.keys[i]}) is cut short in {self._file.name}")
        return out

    def take(self, i: int) -> KeptTake:
        return KeptTake(SimpleNamespace(key=self.keys[i]), (self.fingerprint(i), self._dur[i]))

    def close(self) -> None:
        if self._close is not None:
            self._close()

    def __enter__(self) -> KeptFingerprints:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _folder_beside(catalog: str | os.PathLike) -> str | None:
    """The catalog's folder (the workspace) when a file can be made there, else None (the system's)."""
    folder = Path(catalog).resolve().parent
    if os.access(folder, os.W_OK):
        return str(folder)
    log.info("near-duplicate search: %s is not writable; the kept takes' fingerprints go to %s", folder, tempfile.gettempdir())
    return None


def windows(durations) -> list[tuple[float, float]]:
    """The durations a take of each of ``durations`` is compared with: [0.9 d, d / 0.9], a little
    wider; everything for a duration that is not a finite positive number (as ``comparable``)."""
    out = []
    for d in durations:
        d = float(d)
        if not (math.isfinite(d) and d > 0):
            return [(-math.inf, math.inf)]
        out.append(((1 - WINDOW) * d * (1 - SLACK), d / (1 - WINDOW) * (1 + SLACK)))
    return out


def _read_fingerprints(shard: str, keys: list[str], member: str) -> dict[str, np.ndarray]:
    """key -> fingerprint of the log-mel (``member``) of each of ``keys`` in ``shard``; raises on a
    shard that cannot be read or lacks one of them."""
    names = {f"{k}.{member}": k for k in keys}
    members = read_members(shard, set(names))
    return {names[n]: fingerprint(npy_load(data)) for n, data in members.items()}


def kept_takes(catalog: str | os.PathLike | None, modality: str, cands: list, member: str,
               leaving: frozenset[str] = frozenset()) -> KeptFingerprints:
    """The accepted takes of earlier runs within the comparison window of an accepted candidate's
    duration, with the fingerprints of their log-mel (curated shard member ``member``), in key order,
    their fingerprints in a file beside the catalog (``KeptFingerprints``: close it, or use it as a with
    block, when the search ends). Empty without a catalog (``None``: within the run only), without an
    accepted candidate or without such a take (and no file)."""
    from tqdm.auto import tqdm

    from catalog.near_duplicates import accepted_in_curated_shards

    live = [c for c in cands if c.accepted and c.signature is not None]
    if catalog is None or not live:
        return KeptFingerprints()
    uris = {c.record.source_uri for c in cands} | set(leaving)
    found = accepted_in_curated_shards(catalog, modality, windows(c.signature[1] for c in live), {c.record.key for c in cands}, uris)
    if not found:
        return KeptFingerprints()
    by_shard: dict[str, list] = defaultdict(list)
    for f in found:
        by_shard[f.shard_uri].append(f)
    out = KeptFingerprints(_folder_beside(catalog))
    for shard, takes in tqdm(by_shard.items(), desc="speech: takes of earlier runs", unit="shard", leave=False,
                             disable=len(found) < 500):
        try:
            fps = _read_fingerprints(shard, [t.key for t in takes], member)
        except (OSError, EOFError, KeyError, ValueError, tarfile.TarError, zlib.error) as e:
            log.warning("near-duplicate search: %d take(s) earlier runs kept in curated shard %s are not compared "
                        "(%s); `lumina catalog check` tells what is wrong with it", len(takes), shard,
                        e.strerror if isinstance(e, OSError) and e.strerror else f"{type(e).__name__}: {e}")
            continue
        for t in takes:
            out.append(t.key, fps[t.key], t.duration)
    out.sort()
    return out
