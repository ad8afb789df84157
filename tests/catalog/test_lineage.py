"""Lineage from a checkpoint back to the curate runs: the curated -> encoded shard edge that
registration writes from the encoded shard record's ``source_shard``, and the README's recursive query."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from catalog import Batch, Catalog, ColumnarBatch, ShardRecord
from catalog.cli import main

from .helpers import make_batch

README = Path(__file__).resolve().parents[2] / "catalog" / "README.md"


def _edges(path, src_kind: str, dst_kind: str) -> list[tuple[str, str]]:
    with Catalog.open(path, read_only=True) as cat:
        return cat.sql("SELECT src_id, dst_id FROM lineage WHERE src_kind = ? AND dst_kind = ? ORDER BY ALL",
                       [src_kind, dst_kind])[1]


def _readme_lineage_query() -> str:
    text = README.read_text()
    section = text[text.index("### Lineage"):]
    return re.search(r"```sql\n(.*?)```", section, re.S).group(1)


def test_registration_links_the_encoded_shard_to_its_curated_shard(tmp_path):
    curated, encoded = make_batch(0), make_batch(1, shard_dir="/encoded")
    curated.shard.stage, curated.encodings = "curated", []
    encoded.shard.source_shard = curated.shard.uri
    path = tmp_path / "catalog.duckdb"
    with Catalog.open(path) as cat:
        run = cat.start_run("t")
        cat.register_batches([curated, encoded], run)
    assert _edges(path, "shard", "shard") == [("/shards/b0000.tar", "/encoded/b0001.tar")]


@dataclass
class _ShardRecordBeforeSourceShard:  # ShardRecord as it was: batches registered then must stay skipped
    uri: str
    stage: str
    num_samples: int
    bytes: int
    sha256: str


def test_a_batch_file_written_before_source_shard_still_registers_once(tmp_path):
    batch = make_batch(0)
    d = batch.to_dict()
    del d["shard"]["source_shard"]
    old_file = tmp_path / "b0000.tar.batch.json"
    old_file.write_text(json.dumps(d))
    assert Batch.read(old_file).shard.source_shard is None
    old = _ShardRecordBeforeSourceShard(**d["shard"])
    assert (ColumnarBatch.from_batch(Batch.read(old_file)).digest()
            == ColumnarBatch(shard=old, samples=ColumnarBatch.from_batch(batch).samples,
                             verdicts=ColumnarBatch.from_batch(batch).verdicts,
                             encodings=ColumnarBatch.from_batch(batch).encodings).digest())
    path = tmp_path / "catalog.duckdb"
    with Catalog.open(path) as cat:
        run = cat.start_run("t")
        assert cat.register_batches([old_file], run)["samples"] == 6
        assert cat.register_batches([old_file], run)["skipped"] == 1
    assert _edges(path, "shard", "shard") == []


@pytest.fixture(scope="module")
def staged(tiny_home, tmp_path_factory):
    """Curate, encode, manifest and train as separate runs over tiny_home's batch files (written by
    the library stages) in a catalog of its own: (catalog, checkpoint uri, curated shard uris)."""
    curated = sorted(str(p) for p in (tiny_home.home / "curated").rglob("*.batch.json"))
    encoded = sorted(str(p) for p in (tiny_home.home / "encoded").rglob("*.batch.json"))
    curated_shards = {b.shard.uri for b in map(Batch.read, curated) if b.shard}  # some batches have no shard
    assert curated_shards and encoded
    assert {Batch.read(p).shard.source_shard for p in encoded} == curated_shards
    tmp = tmp_path_factory.mktemp("staged")
    path = tmp / "catalog.duckdb"
    ckpt_uri = str(tmp / "runs" / "train-1" / "checkpoint-0000800")  # the demo's last, as catalog/README.md names it
    with Catalog.open(path) as cat:
        curate = cat.start_run("curate", run_id="curate-1")
        cat.register_batches(curated, curate)
        encode = cat.start_run("encode", run_id="encode-1")
        cat.register_batches(encoded, encode)
        m = cat.freeze_manifest("tiny-train", "modality = 'image' AND split = 'train'")
        train = cat.start_run("train", run_id="train-1")
        cat.register_checkpoint(train, ckpt_uri, {}, m.name, m.version, step=800)
    return path, ckpt_uri, curated_shards


def test_readme_lineage_query_reaches_the_curate_run_from_a_checkpoint(staged, capsys):
    path, _, curated_shards = staged
    with Catalog.open(path, read_only=True) as cat:
        expected = cat.sql("SELECT 'curate-1', 'curate', shard_uri, count(*) FROM shard_samples "
                           "GROUP BY ALL ORDER BY ALL")[1]
    query = _readme_lineage_query()
    assert "'%/checkpoint-0000800'" in query
    rc = main(["sql", query, "--json", "--catalog", str(path)])
    out, err = capsys.readouterr()
    assert rc == 0 and err == "", err
    rows = [(r["run_id"], r["flow_name"], r["curated_shard"], r["samples"]) for r in json.loads(out)]
    # every curated shard feeds an encoded shard the manifest reads
    assert rows == [tuple(r) for r in expected] and len(rows) == len(curated_shards)


def test_shard_samples_lists_curated_shards_and_encodings_say_where_a_sample_is_encoded(staged):
    """What the README's `shard_samples` row says: curated shards only; an encoded shard's samples
    are the keys of the encodings naming it, and each curated sample's encodings lie in the
    encoded shard made from its curated shard."""
    path, _, curated_shards = staged
    with Catalog.open(path, read_only=True) as cat:
        stages = cat.sql("SELECT DISTINCT s.stage FROM shard_samples ss JOIN shards s ON s.uri = ss.shard_uri")[1]
        stray = cat.sql(
            "SELECT count(*) FROM shard_samples ss JOIN encodings e USING (key) "
            "WHERE NOT EXISTS (SELECT 1 FROM lineage l WHERE l.src_kind = 'shard' AND l.src_id = ss.shard_uri "
            "AND l.dst_kind = 'shard' AND l.dst_id = e.shard_uri)")[1]
        encoded = cat.sql("SELECT count(DISTINCT key) FROM encodings e JOIN shards s ON s.uri = e.shard_uri "
                          "WHERE s.stage = 'encoded'")[1]
        curated = cat.sql("SELECT count(DISTINCT key) FROM shard_samples")[1]
    assert stages == [("curated",)] and stray == [(0,)] and encoded == curated
