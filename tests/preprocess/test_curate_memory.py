"""The curate driver holds every candidate to the end of a run (shards are cut from all of them, in
key order, after near-duplicate search), so what it keeps per input decides how large a source fits:
~8.7 KB of RSS an input before this test's fix at 2k-8k images (bench/bench_curate_memory.py).
Two retentions it no longer has: the list of inputs beside their candidates, and a __dict__ per
record and verdict, which CPython creates (and keeps) when an object is pickled the ordinary way
(the analysis journal saving each chunk; Ray returning each task's results)."""

from __future__ import annotations

import gc
import pickle
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import preprocess.curate as pc
from contracts.records import SampleRecord, VerdictRecord
from preprocess.analysis_journal import AnalysisJournal
from preprocess.modality import Candidate, get_plugin
from preprocess.sources import SourceSpec, list_entries


def _folder(root, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    for i in range(n):
        w, h = (int(x) for x in rng.integers(28, 44, 2))
        base = rng.integers(0, 256, (1, 1, 3)) + np.linspace(0, 60, w)[None, :, None]
        a = np.clip(base + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(a).save(root / f"img_{i:04d}.png")
        (root / f"img_{i:04d}.txt").write_text(f"a noisy gradient, number {i}")
    return root


def _instance_dict(obj) -> bool:
    """Whether CPython made obj a __dict__ of its own (gc sees the dict, not the attribute values)."""
    names = {"key"} if not isinstance(obj, Candidate) else {"record"}
    return any(type(r) is dict and names <= r.keys() for r in gc.get_referents(obj))


def _held_at_batches_written(src, home) -> int:
    """Python heap the driver holds once every batch file is written (every candidate alive)."""
    held = {}

    def at(name):
        gc.collect()
        held[name] = tracemalloc.get_traced_memory()[0]

    pc.hold_point = at
    gc.collect()
    start = tracemalloc.get_traced_memory()[0]
    pc.curate(str(src), str(home), pc.CurateConfig(options={"vae_factor": 1}), backend="local")
    return held["curate.batches-written"] - start


def held_per_input(small: str, large: str, home: str) -> float:
    """Run in a fresh interpreter (the test's subprocess): what the driver holds per input, the large
    source's 200 more inputs against the small one's, warmed up (imports, caches) first."""
    pc.curate(small, str(Path(home) / "warm"), pc.CurateConfig(options={"vae_factor": 1}), backend="local")
    tracemalloc.start()
    try:
        before = _held_at_batches_written(small, Path(home) / "small")
        return (_held_at_batches_written(large, Path(home) / "large") - before) / 200
    finally:
        tracemalloc.stop()


def measured_alone(name: str, *args: str) -> float:
    """This module's function `name` run in a fresh interpreter: tracemalloc counts what every thread
    allocates, and a pytest worker can hold threads an earlier test left running (the full suite once
    read 81 KB an input in test_driver_holds_under_5_kb_per_input, 0.5-4.1 KB alone). ~1 s of start."""
    code = f"from tests.preprocess.test_curate_memory import {name}; print({name}(*{list(args)!r}))"
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return float(done.stdout.strip().splitlines()[-1])


def test_driver_holds_under_5_kb_per_input(tmp_path):
    small, large = _folder(tmp_path / "small", 30), _folder(tmp_path / "large", 230, seed=1)
    per_input = measured_alone("held_per_input", str(small), str(large), str(tmp_path))
    # before: 5.66 KB here (4.83 KB after), of which ~0.8 KB the records' __dict__s and ~0.3 KB the inputs' list
    assert per_input < 5250, f"the curate driver holds {per_input:.0f} bytes per input"
    # session 48: records with slots (~0.5 KB an input) and equal verdict scores as one float (~0.3 KB):
    # 4.76 -> 4.10 KB here
    assert per_input < 4450, f"the curate driver holds {per_input:.0f} bytes per input"
    # session 49: verdicts packed, no signature nor input of an unaccepted candidate after near dedup:
    # 4.07 -> ~2.2 KB here
    assert per_input < 2700, f"the curate driver holds {per_input:.0f} bytes per input"


def test_analysed_and_journaled_candidates_have_no_instance_dict(tmp_path):
    src = _folder(tmp_path / "src", 3)
    plugin = get_plugin("image")
    cfg = pc.CurateConfig(options={"vae_factor": 1})
    inputs, _ = plugin.group(list_entries(SourceSpec(str(src))), plugin.options(cfg.options))
    journal = AnalysisJournal(tmp_path / "journal")
    stage = pc.AnalyseStage(plugin, cfg, str(tmp_path / "q"), journal)
    fresh = stage.process(inputs)  # analysed, and saved to the journal
    again = stage.process(inputs)  # loaded from it
    assert journal.chunks_kept() == 1
    for results in (fresh, again):
        cands = [c for part in results for c in part]
        assert len(cands) == 3 and all(c.accepted for c in cands)
        for c in cands:
            for obj in (c, c.record, *c.verdicts):
                assert not _instance_dict(obj), type(obj).__name__
    assert repr(fresh) == repr(again)


def test_compact_pickles_give_back_equal_records_and_take_anything():
    from preprocess.runner import Compact, compact_dumps, compact_loads

    rec = SampleRecord("k", "image", "/x/a.png", "rejected", "min_size: score 3 vs threshold 24", "cap", 3, 4, meta={"a": [1]})
    v = VerdictRecord("k", "min_size", "1", 3.0, 24.0, False)
    cand = Candidate(rec, [v], None, ("sig", np.zeros(3)))
    back = compact_loads(compact_dumps([cand, rec, v]))
    assert back[1:] == [rec, v] and back[0].record == rec and back[0].verdicts == [v]
    assert not any(_instance_dict(o) for o in (back[0], back[1], back[2]))
    # in an ordinary pickle (the journal's file, Ray's results) a Compact loads as its value
    assert pickle.loads(pickle.dumps([Compact(back[1]), Compact("x")])) == [rec, "x"]
    # what plain pickle cannot take (a lambda) goes the outer pickler's way: Ray's cloudpickle takes it
    cloudpickle = pytest.importorskip("cloudpickle")
    assert pickle.loads(cloudpickle.dumps(Compact([rec, lambda: 7])))[1]() == 7


def test_rejections_are_written_in_bounded_batches_with_the_same_rows(tmp_path, monkeypatch):
    """Every input not accepted used to go into one batch file, which curate writes and the catalog
    registers whole (several times its records' memory at once): GBs at a million inputs."""
    from catalog import Catalog
    from contracts.keys import sample_key

    dropped = [Candidate(SampleRecord(f"k{i}", "image", f"/x/{i}.png", "rejected", "min_size: score 3 vs threshold 24"),
                         [VerdictRecord(f"k{i}", "min_size", "1", 3.0, 24.0, False)]) for i in range(5)]
    one = pc.write_rejections(tmp_path / "one", dropped)  # up to REJECTIONS_PER_BATCH: one file, named as before
    assert [p.rsplit("/", 1)[-1] for p in one] == ["rejections-" + sample_key(*[f"k{i}" for i in range(5)])[:16] + ".batch.json"]
    assert [p.rsplit("/", 1)[-1] for p in pc.write_rejections(tmp_path / "none", [])] == ["rejections-" + sample_key()[:16] + ".batch.json"]
    monkeypatch.setattr(pc, "REJECTIONS_PER_BATCH", 2)
    split = pc.write_rejections(tmp_path / "split", dropped)
    from contracts.records import Batch

    assert [len(Batch.read(p).samples) for p in split] == [2, 2, 1]
    rows = []
    for name, paths in (("one", one), ("split", split)):
        with Catalog.open(tmp_path / f"{name}.duckdb") as cat:
            run = cat.start_run("curate")
            assert cat.register_batches(paths, run)["samples"] == 5
            rows.append([cat.sql(f"SELECT * EXCLUDE ({ex}) FROM {t} ORDER BY ALL")[1]
                         for t, ex in (("samples", "first_run, last_run"), ("verdicts", "run_id"))])
    assert rows[0] == rows[1] and len(rows[0][0]) == 5


def test_candidates_from_ray_keep_the_drivers_own_inputs(tmp_path):
    """A Ray task's candidates come back with copies of their inputs; the driver (which holds the inputs)
    keeps its own objects in their place: ~1 KB an input (AnalyseStage.adopt, run by the Ray runner)."""
    from preprocess.runner import compact_loads, compact_dumps

    src = _folder(tmp_path / "src", 3)
    plugin = get_plugin("image")
    cfg = pc.CurateConfig(options={"vae_factor": 1})
    inputs, _ = plugin.group(list_entries(SourceSpec(str(src))), plugin.options(cfg.options))
    stage = pc.AnalyseStage(plugin, cfg, str(tmp_path / "q"))
    came = compact_loads(compact_dumps(stage.process(inputs)))  # as a worker's result reaches the driver
    before = repr(came)
    kept = stage.adopt(inputs, came)
    assert repr(kept) == before  # the same values
    for item, part in zip(inputs, kept):
        (c,) = part
        assert c.source.media is item.media and c.source.caption is item.caption and c.record.source_uri is item.uri
        assert pc.CONTENT_DIGEST in c.source.meta and pc.CONTENT_DIGEST not in item.meta  # its own meta


def _records(n: int) -> tuple[list[SampleRecord], list[VerdictRecord]]:
    samples = [SampleRecord(f"{i:032x}", "image", f"/x/img_{i:05d}.png", "rejected" if i % 3 else "accepted",
                            f"min_size: score {i} vs threshold 24" if i % 3 else None, f"caption {i}" if i % 5 else None,
                            20 + i % 7, None if i % 4 else 30, 1, 1.5 if i % 2 else None, meta={"a": [i, 2], "b": "é"} if i % 2 else {})
               for i in range(n)]
    verdicts = [VerdictRecord(s.key, f, "1", float(i) if i % 6 else None, 24.0, bool(i % 2)) for i, s in enumerate(samples) for f in "abcdefghi"]
    return samples, verdicts


def arrow_peak_per_input() -> float:
    """Run in a fresh interpreter (measured_alone): the Python heap's peak, an input, while a batch of
    1500 becomes Arrow tables."""
    from catalog.columnar import ColumnarBatch
    from contracts.records import Batch

    samples, verdicts = _records(1500)
    batch = Batch(samples=samples, verdicts=verdicts)
    ColumnarBatch.from_batch(Batch(samples=samples[:2], verdicts=verdicts[:2]))  # pyarrow's lazy imports
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        ColumnarBatch.from_batch(batch)
        return (tracemalloc.get_traced_memory()[1] - start) / len(samples)
    finally:
        tracemalloc.stop()


def test_a_batch_becomes_arrow_column_by_column_with_the_same_tables():
    """Registering a batch turned every record into a dict of its fields first (from_pylist): ~1.2 KB of
    Python heap an input at once (an image's nine verdicts); the columns are lists of the records' own
    values (<0.1 KB), and the tables are the same."""
    import json

    import pyarrow as pa

    from dataclasses import asdict

    from catalog.columnar import SAMPLES_SCHEMA, VERDICTS_SCHEMA, ColumnarBatch
    from contracts.records import Batch

    peak = measured_alone("arrow_peak_per_input")
    assert peak < 400, f"{peak:.0f} bytes of Python heap an input at once"
    samples, verdicts = _records(1500)
    cb = ColumnarBatch.from_batch(Batch(samples=samples, verdicts=verdicts))
    rows = [{**asdict(r), "meta": json.dumps(r.meta or {}, sort_keys=True)} for r in samples]
    assert cb.samples.equals(pa.Table.from_pylist(rows, schema=SAMPLES_SCHEMA))
    assert cb.verdicts.equals(pa.Table.from_pylist([asdict(v) for v in verdicts], schema=VERDICTS_SCHEMA))
    empty = ColumnarBatch.from_batch(Batch())
    assert empty.samples.num_rows == empty.verdicts.num_rows == empty.encodings.num_rows == 0
