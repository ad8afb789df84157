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
"""

from __future__ import annotations

import logging
import math
import os
import tarfile
import zlib
from collections import defaultdict
from dataclasses import dataclass
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
               leaving: frozenset[str] = frozenset()) -> list[KeptTake]:
    """The accepted takes of earlier runs within the comparison window of an accepted candidate's
    duration, with the fingerprints of their log-mel (curated shard member ``member``), in key order. Empty without a
    catalog (``None``: within the run only) or without an accepted candidate."""
    from tqdm.auto import tqdm

    from catalog.near_duplicates import accepted_in_curated_shards

    live = [c for c in cands if c.accepted and c.signature is not None]
    if catalog is None or not live:
        return []
    uris = {c.record.source_uri for c in cands} | set(leaving)
    found = accepted_in_curated_shards(catalog, modality, windows(c.signature[1] for c in live), {c.record.key for c in cands}, uris)
    by_shard: dict[str, list] = defaultdict(list)
    for f in found:
        by_shard[f.shard_uri].append(f)
    out = []
    for shard, takes in tqdm(by_shard.items(), desc="speech: takes of earlier runs", unit="shard", leave=False,
                             disable=len(found) < 500):
        try:
            fps = _read_fingerprints(shard, [t.key for t in takes], member)
        except (OSError, EOFError, KeyError, ValueError, tarfile.TarError, zlib.error) as e:
            log.warning("near-duplicate search: %d take(s) earlier runs kept in curated shard %s are not compared "
                        "(%s); `lumina catalog check` tells what is wrong with it", len(takes), shard,
                        e.strerror if isinstance(e, OSError) and e.strerror else f"{type(e).__name__}: {e}")
            continue
        out += [KeptTake(SimpleNamespace(key=t.key), (fps[t.key], t.duration)) for t in takes]
    return sorted(out, key=lambda k: k.record.key)
