"""A batch file holds each record's fields as dataclasses.asdict gives them, in declaration order:
the catalog registers a batch once by its contents, so a file written by this code must read back
as the records written (nested meta and shapes included) and be the JSON asdict made before."""

from __future__ import annotations

import json
from dataclasses import asdict

from contracts.records import Batch, EncodingRecord, SampleRecord, ShardRecord, VerdictRecord


def _batch() -> Batch:
    return Batch(
        shard=ShardRecord("/d/s.tar", "encoded", 2, 123, "f" * 64, source_shard="/d/c.tar"),
        samples=[SampleRecord("a" * 32, "image", "/d/ü.png", "accepted", caption="zwei Vögel", width=8, height=8,
                              meta={"label": 1, "scores": {"clip": 0.25}, "views": [[1.0, 0.0], [0.0, 1.0]]}),
                 SampleRecord("b" * 32, "speech", "/d/b.wav", "rejected", reason="min_duration: 0.2 < 0.5",
                              duration=0.2, sample_rate=22050)],
        verdicts=[VerdictRecord("b" * 32, "min_duration", "1", 0.2, 0.5, False), VerdictRecord("a" * 32, "x", "2", None, None, True)],
        encodings=[EncodingRecord("a" * 32, "fp", "latent", [4, 2, 2], "float16", "/d/s.tar", "a.latent.npy")])


def test_a_batch_file_is_asdicts_json_and_reads_back_as_written(tmp_path):
    b = _batch()
    path = b.write(tmp_path / "x.batch.json")
    expected = {"shard": asdict(b.shard), "samples": [asdict(s) for s in b.samples],
                "verdicts": [asdict(v) for v in b.verdicts], "encodings": [asdict(e) for e in b.encodings]}
    assert path.read_text() == json.dumps(expected)
    assert Batch.read(path) == b
    assert Batch(samples=[], verdicts=[]).to_dict() == {"shard": None, "samples": [], "verdicts": [], "encodings": []}
