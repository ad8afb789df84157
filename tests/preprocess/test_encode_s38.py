"""Session s38: encode's checks of curated and encoded shards, its truncated-caption warning, its
damaged batch files."""

from __future__ import annotations

import os
import tarfile

import pytest

from contracts.shards import shard_damage, write_tar
from preprocess.image.demo_corpus import write_demo_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_demo_corpus(tmp_path_factory.mktemp("s38"), num_digits=8, num_shapes=4, seed=0).root


def _curate(src, home):
    from flows.cli import main

    assert main(["curate", str(src), "--home", str(home), "--local", "--vae-factor", "1", "--shard-size", "4"]) == 0


def _count_tar_opens(monkeypatch) -> list[str]:
    opened: list[str] = []
    real = tarfile.open

    def counting(name=None, *a, **k):
        opened.append(str(name))
        return real(name, *a, **k)

    monkeypatch.setattr(tarfile, "open", counting)
    return opened


def test_shard_damage_of_a_shard_whose_size_is_recorded_is_one_stat(tmp_path, monkeypatch):
    """Reading every tar header cost ~0.4 s per 2,000-sample shard, for every shard of a no-op encode."""
    rec = write_tar(tmp_path / "a.tar", [(f"{k:032x}.{f}", os.urandom(3000)) for k in range(4) for f in ("png", "txt")],
                    stage="curated", num_samples=4)
    data = (tmp_path / "a.tar").read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[: 3 * (512 + 3072)] + bytes(1024))  # a valid, shorter tar
    (tmp_path / "empty.tar").write_bytes(b"")
    opened = _count_tar_opens(monkeypatch)
    assert shard_damage(tmp_path / "a.tar", rec) is None
    assert shard_damage(tmp_path / "cut.tar", rec) == f"{3 * 3584 + 1024} bytes where its batch file records {rec.bytes}"
    assert shard_damage(tmp_path / "empty.tar", rec) == f"0 bytes where its batch file records {rec.bytes}"
    assert opened == []
    assert shard_damage(tmp_path / "empty.tar", None).startswith("not a readable tar")  # no record: the headers
    assert len(opened) == 1


def test_a_no_op_encode_opens_no_tar(corpus, tmp_path, monkeypatch, capsys):
    """Before: each curated shard's headers were read twice (encode_step's check, encode's again
    despite checked=True) and each encoded shard's once."""
    from flows.cli import main

    _curate(corpus, tmp_path)
    argv = ["encode", "--home", str(tmp_path), "--modality", "image", "--local"]
    assert main(argv) == 0
    import preprocess.encode as enc

    opened = _count_tar_opens(monkeypatch)
    checked: list[str] = []
    real = enc.shard_damage
    monkeypatch.setattr(enc, "shard_damage", lambda path, rec=None: checked.append(str(path)) or real(path, rec))
    assert main(argv) == 0
    assert opened == []
    curated = sorted(str(p) for p in (tmp_path / "curated" / "image").glob("*.tar"))
    encoded = sorted(str(p) for p in (tmp_path / "encoded" / "image").glob("*.tar"))
    assert curated and encoded and sorted(checked) == sorted(curated + encoded)  # each once
