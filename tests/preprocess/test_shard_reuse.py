"""Curated and encoded shards are reused only when whole.

Before: write_tar renamed a file it had not synced (a power loss could leave an empty or cut-short
shard under the final name), and curate and encode reused any shard whose file and batch file
existed: encode then read a cut-short curated shard as a shorter tar (fewer encodings, exit 0) or
died on an empty one with a tarfile traceback, and curate kept it for ever.
"""

import os
import tarfile
from pathlib import Path

import pytest

import contracts.shards as shards
from contracts.keys import file_sha256
from contracts.records import Batch
from contracts.shards import DamagedCuratedShard, shard_damage, write_tar
from preprocess.curate import CurateConfig, curate
from preprocess.encode import EncodeConfig, encode
from preprocess.image.demo_corpus import write_demo_corpus

OPTIONS = {"resize": "square", "size": 32}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_demo_corpus(tmp_path_factory.mktemp("reuse"), num_digits=16, num_shapes=6, seed=0).root


def run(src, home):
    return curate(str(src), home, CurateConfig(options=OPTIONS, shard_size=8), backend="local")


def test_write_tar_syncs_the_file_and_its_folder_before_and_after_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", "dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "file"))
        return real_fsync(fd)

    def replace(a, b):
        events.append(("replace", Path(b).name))
        return real_replace(a, b)

    monkeypatch.setattr(shards.os, "fsync", fsync)
    monkeypatch.setattr(shards.os, "replace", replace)
    write_tar(tmp_path / "a.tar", [("k.txt", b"x")], stage="curated", num_samples=1)
    assert events == [("fsync", "file"), ("replace", "a.tar"), ("fsync", "dir")]


def test_shard_damage_tells_a_cut_short_or_empty_shard(tmp_path):
    rec = write_tar(tmp_path / "a.tar", [(f"{k:032x}.{f}", os.urandom(3000)) for k in range(4) for f in ("png", "txt")],
                    stage="curated", num_samples=4)
    assert shard_damage(tmp_path / "a.tar", rec) is None
    data = (tmp_path / "a.tar").read_bytes()
    # cut at a member boundary: a valid, shorter tar (tarfile reads it without a word)
    cut = 3 * (512 + 3072)
    (tmp_path / "b.tar").write_bytes(data[:cut] + bytes(1024))
    with tarfile.open(tmp_path / "b.tar") as t:
        assert len(t.getmembers()) == 3
    assert "bytes where its batch file records" in shard_damage(tmp_path / "b.tar", rec)
    assert shard_damage(tmp_path / "b.tar", None) is None  # without a record only readability can be told
    # a record that knows its size is checked by size alone; one without reads the headers for the count
    rec_b = type(rec)(**{**rec.__dict__, "bytes": None})
    assert shard_damage(tmp_path / "b.tar", rec_b) == "2 samples where its batch file records 4"
    (tmp_path / "c.tar").write_bytes(b"")
    assert shard_damage(tmp_path / "c.tar", None).startswith("not a readable tar")
    assert shard_damage(tmp_path / "missing.tar", rec).startswith("cannot be read")


@pytest.mark.parametrize("damage", ["truncate", "empty"])
def test_curate_writes_a_damaged_curated_shard_again(corpus, tmp_path, damage):
    first = run(corpus, tmp_path)
    sums = {u: file_sha256(u) for u in first.shard_uris}
    victim = Path(first.shard_uris[0])
    with open(victim, "r+b") as f:
        f.truncate(20000 if damage == "truncate" else 0)
    again = run(corpus, tmp_path)  # before: kept as it was ("skipped")
    assert {u: file_sha256(u) for u in again.shard_uris} == sums  # the same bytes as the first, whole write


@pytest.mark.parametrize("damage", ["truncate", "empty"])
def test_encode_refuses_a_damaged_curated_shard_in_one_line(corpus, tmp_path, damage, capsys):
    first = run(corpus, tmp_path)
    victim = first.shard_uris[0]
    with open(victim, "r+b") as f:
        f.truncate(20000 if damage == "truncate" else 0)
    with pytest.raises(DamagedCuratedShard, match=f"curated shard {victim} is damaged .*run `lumina curate`"):
        encode(tmp_path, "image", EncodeConfig(), backend="local")  # before: fewer encodings, or ReadError('empty file')
    from flows.cli import main

    capsys.readouterr()
    assert main(["encode", "--home", str(tmp_path), "--modality", "image", "--local"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err[-1].startswith(f"lumina encode: error: curated shard {victim} is damaged")
    assert not any("Traceback" in line for line in err)
    from catalog import Catalog

    runs = []  # refused before a run is recorded (the library curate above registers nothing)
    if (tmp_path / "catalog.duckdb").exists():
        with Catalog.open(tmp_path / "catalog.duckdb", read_only=True) as cat:
            _, runs = cat.sql("SELECT flow_name, status FROM runs")
    assert runs == []


def test_encode_writes_a_damaged_encoded_shard_again(corpus, tmp_path):
    run(corpus, tmp_path)
    first = encode(tmp_path, "image", EncodeConfig(), backend="local")
    out = [Batch.read(p).shard.uri for p in first.batch_paths]
    sums = {u: file_sha256(u) for u in out}
    with open(out[0], "r+b") as f:
        f.truncate(10000)  # before: reused as it was
    again = encode(tmp_path, "image", EncodeConfig(), backend="local")
    assert {Batch.read(p).shard.uri: file_sha256(Batch.read(p).shard.uri) for p in again.batch_paths} == sums
