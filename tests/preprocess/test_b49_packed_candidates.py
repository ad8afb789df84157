"""What the curate driver holds per input until its batches are written (session 49): verdicts packed
(preprocess/packed_verdicts.py), no near-duplicate signature once the search is done, and a search
index of arrays instead of a dict of lists per (band, value). Measured by counting objects, or by
tracemalloc filtered to the search's own file: a pytest worker's other threads allocate too."""

from __future__ import annotations

import copy
import gc
import json
import random
import tracemalloc
from types import SimpleNamespace

import numpy as np
from PIL import Image

import preprocess.curate as pc
from contracts.records import SampleRecord, VerdictRecord
from preprocess.image.dedup import NearSignature, mark_near_duplicates
from preprocess.modality import Candidate
from preprocess.packed_verdicts import PackedVerdicts, pack_verdicts


def _folder(root, n: int):
    rng = np.random.default_rng(7)
    root.mkdir(parents=True)
    for i in range(n):
        a = np.clip(rng.integers(0, 256, (1, 1, 3)) + rng.normal(0, 30, (36, 40, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(a).save(root / f"img_{i:03d}.png")
        (root / f"img_{i:03d}.txt").write_text(f"noise {i}")
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(root / "tiny.png")  # rejected: min_size
    (root / "tiny.txt").write_text("too small")
    return root


def _alive(cls) -> int:
    gc.collect()
    return sum(type(o) is cls for o in gc.get_objects())


def test_driver_holds_no_verdict_records_signatures_nor_inputs_it_does_not_write_from(tmp_path, monkeypatch):
    from preprocess.sources import RawInput

    n = 16 + 1
    src = _folder(tmp_path / "src", n - 1)
    seen = {}
    kinds = (VerdictRecord, NearSignature, RawInput)

    def at(name):
        if name == "curate.batches-written":
            seen.update((k.__name__, _alive(k)) for k in kinds)

    monkeypatch.setattr(pc, "hold_point", at)
    before = {k.__name__: _alive(k) for k in kinds}
    res = pc.curate(str(src), str(tmp_path / "home"), pc.CurateConfig(options={"vae_factor": 1}), backend="local")
    assert sum(res.counts.values()) == n and res.counts["accepted"] > 0 and res.reasons.get("min_size") == 1
    held = {k: seen[k] - before[k] for k in seen}
    # before: ~10 VerdictRecords, one signature and one input an image, alive to the end of the run
    assert held["VerdictRecord"] < n // 2, held
    assert held["NearSignature"] == 0, held
    assert held["RawInput"] == res.counts["accepted"], held  # the shard writer's; a rejected input's are read no more
    batches = [json.loads(open(p).read()) for p in res.batch_paths]
    verdicts = [v for b in batches for v in b["verdicts"]]
    assert len({v["key"] for v in verdicts}) == n and len(verdicts) >= 9 * res.counts["accepted"]


def _verdicts(key: str, rng: random.Random, count: int) -> list[VerdictRecord]:
    scores = [3.0, -0.0, 0.0, 7, None, 1e-300, 2.5, rng.random()]
    return [VerdictRecord(key, f"f{i}", "2" if i % 3 else "1", s, [24.0, 1, None, -0.0][i % 4], [True, False][i % 2])
            for i, s in enumerate(scores[:count])]


def test_packed_verdicts_read_back_as_written_and_batch_files_are_the_same_bytes(tmp_path):
    rng = random.Random(3)
    cands = [Candidate(SampleRecord(f"k{i:02d}", "image", f"/x/{i}.png", "rejected", "min_size: 3"), _verdicts(f"k{i:02d}", rng, i % 9))
             for i in range(30)]
    cands[4].verdicts.append(VerdictRecord("other", "exact_dedup", "1", 1.0, 1.0, False))  # two keys: kept as records
    packed = copy.deepcopy(cands)
    pack_verdicts(packed)
    assert all(isinstance(c.verdicts, PackedVerdicts) for c in packed)
    for a, b in zip(cands, packed):
        assert len(b.verdicts) == len(a.verdicts) and b.verdicts == a.verdicts
        assert [(type(v.score), repr(v.score), type(v.threshold), repr(v.threshold), type(v.passed)) for v in b.verdicts] == \
               [(type(v.score), repr(v.score), type(v.threshold), repr(v.threshold), type(v.passed)) for v in a.verdicts]
    # the same shape (filters, versions, thresholds, passes) is one tuple however many candidates have it
    same = [c.verdicts for c in packed if len(c.verdicts) == 3]
    assert len(same) >= 2 and all(v.shape is same[0].shape for v in same)
    # appended and inserted as a list is
    v = VerdictRecord("k00", "phash_dedup", "3", 16.0, 12.0, True)
    a, b = cands[0].verdicts, packed[0].verdicts
    a.append(v), b.append(v), a.insert(0, v), b.insert(0, v)
    assert b == a and b[-1] == v and b[0] == v
    a, b = cands[1].verdicts, packed[1].verdicts  # all float scores: one more float64 on the bytes
    v = VerdictRecord("k01", "phash_dedup", "3", 2.0, 12.0, False)
    a.append(v), b.append(v)
    assert b == a and type(b.scores) is bytes and len(b.scores) == 8 * len(a)
    one = pc.write_rejections(tmp_path / "lists", cands)
    two = pc.write_rejections(tmp_path / "packed", packed)
    assert [open(p, "rb").read() for p in one] == [open(p, "rb").read() for p in two]
    from preprocess.runner import compact_dumps, compact_loads

    back = compact_loads(compact_dumps(packed))  # as the shard writer's Ray tasks get them
    assert [c.verdicts for c in back] == [c.verdicts for c in packed]


class _Spy(list):
    """The last candidate's verdicts: what the search's own file holds when it gets there."""

    def append(self, v):
        snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, "*/preprocess/image/dedup.py")])
        self.held = sum(s.size for s in snap.statistics("filename"))
        super().append(v)


def test_near_duplicate_search_holds_little_per_candidate():
    rng = random.Random(5)
    n, grey = 3000, np.zeros((16, 3), np.float32)
    cands = []
    for i in range(n):
        rec = SampleRecord(f"k{i:05d}", "image", f"/x/{i}.png", "accepted", meta={})
        sig = NearSignature(rng.getrandbits(256), grey, (-i,))  # larger first: the order is the index
        cands.append(Candidate(rec, [], SimpleNamespace(name=f"{i}.png"), sig))
    cands[0].signature = cands[0].signature._replace(phash=cands[-1].signature.phash ^ 1)  # one near pair
    cands[-1].verdicts = spy = _Spy()
    tracemalloc.start()
    try:
        mark_near_duplicates(cands, max_distance=12, colour_max_diff=12.0)
    finally:
        tracemalloc.stop()
    assert cands[0].accepted and cands[-1].record.reason.startswith("phash_dedup: near duplicate of k00000 (Hamming distance 1)")
    # before: a dict of (band, value) -> list, ~3 KB a candidate; now arrays of band values (~0.3 KB),
    # and the verdicts and signatures' hex in meta it makes (~0.4 KB): ~0.7 KB in all here, 4.0 KB before
    assert spy.held / n < 1500, f"{spy.held / n:.0f} bytes a candidate"


def test_catalog_search_in_parts_finds_what_one_query_finds(tmp_path, monkeypatch):
    """kept_in_catalog asks the catalog CATALOG_QUERY_HASHES hashes at a time (its table of bands was
    ~3 KB a hash at once, the driver's peak): the same samples, once each, in key order."""
    import preprocess.image.dedup as dedup
    from catalog import Catalog
    from flows.steps import curate_step

    src = _folder(tmp_path / "src", 6)
    curate_step(str(src), str(tmp_path / "home"), pc.CurateConfig(options={"vae_factor": 1}), backend="local")
    catalog = tmp_path / "home" / "catalog.duckdb"
    with Catalog.open(catalog, read_only=True) as cat:
        _, rows = cat.sql("SELECT key, meta->>'phash' FROM samples WHERE status = 'accepted' ORDER BY key")
    assert len(rows) >= 3
    cands = []  # each stored hash twice (one and a neighbour) and a stranger: other keys and files
    for i, (_, phash) in enumerate(rows * 2):
        rec = SampleRecord(f"new{i:02d}", "image", f"/elsewhere/{i}.png", "accepted", meta={})
        cands.append(Candidate(rec, [], None, NearSignature(int(phash, 16) ^ (i // len(rows)), bytes(48))))
    whole = dedup.kept_in_catalog(str(catalog), "image", cands)
    monkeypatch.setattr(dedup, "CATALOG_QUERY_HASHES", 1)
    parts = dedup.kept_in_catalog(str(catalog), "image", cands)
    assert [k.record.key for k in whole] == [r[0] for r in rows]
    assert [(k.record.key, k.signature[0]) for k in parts] == [(k.record.key, k.signature[0]) for k in whole]
    assert all((a.signature[1] == b.signature[1]).all() for a, b in zip(parts, whole))
