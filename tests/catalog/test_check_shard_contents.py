"""`lumina catalog check --shards` reads every shard the catalog registers and compares it with the
recorded size and sha256 (catalog/shard_contents.py). The trainer only stats the encoded shards, so
bytes flipped inside a tensor (same size) trained on wrong numbers without a word; now each damaged
or missing shard is named with what writes it anew, counts as a violation (exit 1), and nothing on
disk changes. ``--manifest NAME[@vN]`` looks only at the shards that manifest reads."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from catalog import Catalog
from catalog.cli import main
from catalog.shard_contents import CHANGED, MISSING, check_shard_contents
from tests.catalog.helpers import make_batch


def _registered(tmp_path: Path, n: int = 4) -> tuple[Path, list[Path]]:
    """A catalog with n encoded shards, each a real file whose size and sha256 the catalog records."""
    shard_dir = tmp_path / "encoded"
    shard_dir.mkdir()
    batches, files = [], []
    for b in range(n):
        batch = make_batch(b, shard_dir=str(shard_dir))
        path = Path(batch.shard.uri)
        data = bytes((b * 7 + i) % 251 for i in range(4096 + b))
        path.write_bytes(data)
        shard = dataclasses.replace(batch.shard, bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
        batches.append(dataclasses.replace(batch, shard=shard))
        files.append(path)
    catalog = tmp_path / "catalog.duckdb"
    with Catalog.open(catalog) as cat:
        run = cat.start_run("encode", {}, run_id="run-encode")
        cat.register_batches(batches, run)
        cat.finish_run(run)
        cat.create_manifest("first", "source_uri LIKE '/raw/0/%' AND status = 'accepted'")
    return catalog, files


def _damage(files: list[Path]) -> None:
    files[1].unlink()  # deleted
    data = bytearray(files[2].read_bytes())
    data[100] ^= 0x01  # one bit, same size: what only a hash sees
    files[2].write_bytes(bytes(data))
    files[3].write_bytes(files[3].read_bytes() + b"\0")  # another size


def test_missing_and_changed_shards_are_named_with_what_to_do(tmp_path, capsys):
    catalog, files = _registered(tmp_path)
    rc = main(["check", "--catalog", str(catalog), "--shards"])
    out = capsys.readouterr().out
    assert rc == 0, out  # as registered: no finding
    assert "shard_files_missing                           0" in out and "shard_files_changed                           0" in out
    assert "shards: 4 registered shards looked at" in out

    _damage(files)
    before = {p: p.read_bytes() for p in files if p.exists()}
    rc = main(["check", "--catalog", str(catalog), "--shards"])
    out = capsys.readouterr().out
    assert rc == 1, out
    assert f"{MISSING}: encoded shard {files[1]}: not on disk\n  do: delete it and run `lumina encode` again" in out
    assert f"{CHANGED}: encoded shard {files[2]}: its sha256 is " in out and "(same size: its bytes changed in place)" in out
    assert f"{CHANGED}: encoded shard {files[3]}: {4096 + 3 + 1} bytes where the catalog records {4096 + 3}" in out
    assert str(files[0]) not in out  # intact
    assert {p: p.read_bytes() for p in files if p.exists()} == before  # read-only


def test_without_the_flag_no_shard_is_read(tmp_path, capsys):
    catalog, files = _registered(tmp_path)
    _damage(files)
    rc = main(["check", "--catalog", str(catalog)])
    out = capsys.readouterr().out
    assert rc == 0 and "shard_files" not in out, out  # the data tests alone: cheap, as before


def test_a_manifest_limits_the_check_to_its_shards(tmp_path, capsys):
    catalog, files = _registered(tmp_path)
    _damage(files)
    with Catalog.open(catalog, read_only=True) as cat:
        report = check_shard_contents(cat, manifest="first", progress=False)
        assert report.shards == 1 and report.findings == [] and report.bytes_read == 4096
        everything = check_shard_contents(cat, progress=False, threads=2)
    assert [(f.check, f.uri) for f in everything.findings] == [
        (MISSING, str(files[1])), (CHANGED, str(files[2])), (CHANGED, str(files[3]))]
    assert everything.counts() == {MISSING: 1, CHANGED: 2}

    rc = main(["check", "--catalog", str(catalog), "--manifest", "first@v1"])  # --manifest implies --shards
    out = capsys.readouterr().out
    assert rc == 0 and "shards: 1 registered shards of manifest first@v1 looked at" in out, out


@pytest.mark.parametrize("ref, said", [("nope", "no manifest named 'nope' in "),
                                       ("first@v9", "manifest 'first' has no version 9")])  # not "0 shards looked at"
def test_an_unknown_manifest_is_one_line(tmp_path, capsys, ref, said):
    catalog, _ = _registered(tmp_path, n=1)
    rc = main(["check", "--catalog", str(catalog), "--manifest", ref])
    err = capsys.readouterr().err
    assert rc == 2 and said in err and "Traceback" not in err, err
