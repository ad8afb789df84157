"""The takes earlier runs kept have their fingerprints in a file, not in memory (kept_takes.KeptFingerprints):
at 100,000 kept takes they were 1.34 GB held by the search (bench/speech_dedup_scale.py --rss). The search
gives what it gave with them in memory, and neither making them nor searching holds them all."""

from __future__ import annotations

import os
import tracemalloc
from types import SimpleNamespace

import numpy as np

from contracts.records import SampleRecord
from preprocess.modality import Candidate
from preprocess.speech import dedup, kept_takes as kept_module
from preprocess.speech.kept_takes import KeptFingerprints, KeptTake

WIDTH = 300  # frames a take: 12 kB of fingerprint


def _take(rng: np.random.Generator, width: int = WIDTH) -> np.ndarray:
    steps = np.repeat(rng.normal(-5, 1.5, (dedup.BANDS, width // 10 + 1)), 10, 1)[:, :width]
    return (steps + rng.normal(0, 0.3, (dedup.BANDS, width))).astype(np.float16)


def _cand(key: str, fp: np.ndarray, dur: float) -> Candidate:
    rec = SampleRecord(key=key, modality="speech", source_uri=f"/c/{key}", split="train", status="accepted", meta={})
    return Candidate(rec, [], SimpleNamespace(name=f"{key}.wav"), (fp, dur))


def _outcome(c: Candidate) -> tuple:
    (v,) = [v for v in c.verdicts if v.filter == "audio_fingerprint_dedup"]
    return c.record.status, c.record.reason, c.record.meta.get("near_duplicate_of"), v.score, v.passed


def _kept_and_new(rng: np.random.Generator, n_kept: int = 300, n_new: int = 120):
    """Kept takes (some of one length, so the compiled prefilter is used) and new ones, a quarter of
    them near copies of kept takes (noise 0.05, 2% longer) or of each other."""
    kept = []
    for i in range(n_kept):
        width = WIDTH if i % 2 else int(rng.integers(100, 500))
        kept.append((f"k{i:04d}", _take(rng, width), width * 256 / 22050))
    new = []
    for i in range(n_new):
        if i % 4 == 0:
            _, fp, dur = kept[int(rng.integers(n_kept))]
            fp, dur = (fp.astype(np.float32) + rng.normal(0, 0.05, fp.shape)).astype(np.float16), dur * 1.02
        elif i % 4 == 1 and new:
            _, fp, dur = new[-1]
            fp = (fp.astype(np.float32) + rng.normal(0, 0.05, fp.shape)).astype(np.float16)
        else:
            fp = _take(rng, int(rng.integers(100, 500)))
            dur = fp.shape[1] * 256 / 22050
        new.append((f"n{i:04d}", fp, dur))
    return kept, new


def test_the_search_with_kept_fingerprints_in_a_file_gives_what_it_gave_with_them_in_memory(tmp_path):
    kept, new = _kept_and_new(np.random.default_rng(7))
    in_memory = [_cand(*t) for t in new]
    dedup.mark_near_duplicates(in_memory, 0.15, [KeptTake(SimpleNamespace(key=k), (fp, d)) for k, fp, d in kept])
    in_a_file = [_cand(*t) for t in new]
    with KeptFingerprints(tmp_path) as stored:
        for t in reversed(kept):  # sorted as kept_takes sorts them
            stored.append(*t)
        stored.sort()
        dedup.mark_near_duplicates(in_a_file, 0.15, stored)
    want = [_outcome(c) for c in in_memory]
    assert [_outcome(c) for c in in_a_file] == want
    rejected = [o for o in want if o[0] == "rejected"]
    assert len(rejected) >= 40 and sum(o[2].startswith("k") for o in rejected) >= 25  # copies of kept and of new takes
    assert sum(o[3] < dedup.SCORE_CAP for o in want if o[0] == "accepted") == 0  # distinct takes: scored as the cap


def test_neither_making_nor_searching_the_kept_takes_holds_their_fingerprints(tmp_path, monkeypatch):
    """400 kept takes of 12 kB (4.8 MB): kept_takes and the search each hold a small part of that at
    their peak (the search's index: block sums, 6.25 bytes a frame against 40)."""
    rng = np.random.default_rng(3)
    takes = [SimpleNamespace(key=f"k{i:04d}", shard_uri=f"s{i // 25}", duration=2.0 + (i % 2) * 1e-3) for i in range(400)]
    total = len(takes) * dedup.BANDS * WIDTH * 2
    monkeypatch.setattr("catalog.near_duplicates.accepted_in_curated_shards", lambda *a: takes)
    monkeypatch.setattr(kept_module, "_read_fingerprints", lambda shard, keys, member: {k: _take(rng) for k in keys})
    catalog = tmp_path / "catalog.duckdb"
    new = [_cand(f"n{i}", _take(rng), 2.0) for i in range(20)]
    before = set(os.listdir(tmp_path))
    tracemalloc.start()
    try:
        kept = kept_module.kept_takes(catalog, "speech", new, "mel.npy")
        made, made_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        dedup.mark_near_duplicates(new, 0.15, kept)
        search_peak = tracemalloc.get_traced_memory()[1] - made
    finally:
        tracemalloc.stop()
    assert isinstance(kept, KeptFingerprints) and len(kept) == 400 and kept.keys == sorted(kept.keys)
    assert made < total / 20 and made_peak < total / 4, (made, made_peak, total)  # a shard of 25 takes at a time (0.3 MB)
    assert search_peak < total / 4, (search_peak, total)
    info = os.fstat(kept._file.fileno())
    assert info.st_size == total and info.st_dev == os.stat(tmp_path).st_dev  # beside the catalog, not /tmp
    assert info.st_nlink == 0 and set(os.listdir(tmp_path)) == before  # no name: nothing left if the run is killed
    np.testing.assert_array_equal(kept.fingerprint(5), kept.take(5).signature[0])
    kept.close()
    assert kept._file.closed


def test_kept_takes_without_a_catalog_or_a_take_to_compare_make_no_file(tmp_path):
    new = [_cand("n0", _take(np.random.default_rng(1)), 2.0)]
    assert len(kept_module.kept_takes(None, "speech", new, "mel.npy")) == 0
    empty = kept_module.kept_takes(tmp_path / "catalog.duckdb", "speech", new, "mel.npy")  # no catalog yet
    assert len(empty) == 0 and empty._file is None
    dedup.mark_near_duplicates(new, 0.15, empty)
    assert new[0].record.status == "accepted" and new[0].verdicts[0].score == 99.0


def test_the_search_asks_the_kept_takes_for_their_durations_once(tmp_path, monkeypatch):
    """KeptFingerprints makes its durations' array at each ask: asked per take, indexing 100,000 kept
    takes cost 4.6 s more CPU (copies of 0.8 MB each)."""
    asked, made = [], KeptFingerprints.durations.fget
    monkeypatch.setattr(KeptFingerprints, "durations", property(lambda self: asked.append(1) or made(self)))
    rng = np.random.default_rng(5)
    new = [_cand(f"n{i}", _take(rng), 2.0) for i in range(3)]
    with KeptFingerprints(tmp_path) as kept:
        for i in range(30):
            kept.append(f"k{i:02d}", _take(rng), 2.0)
        dedup.mark_near_duplicates(new, 0.15, kept)
    assert len(asked) == 1 and all(c.record.status == "accepted" for c in new)
