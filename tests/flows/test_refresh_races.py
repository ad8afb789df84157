"""`lumina refresh` while a new input is deleted between its analysis and the writing of its shard:
the input is recorded quarantined (vanished_during_curation) and the refresh completes. Curate did
so already; refresh counted it accepted (103 where 102 + 1 were), recorded no row for it, and left
the writer's set-aside note beside the shards."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

import preprocess.curate as pc
from flows.refresh import refresh_source
from preprocess.encode import EncodeConfig

ENCODE = EncodeConfig(text="phone")  # no model to load


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    from preprocess.image.demo_corpus import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("races"), num_digits=12, num_shapes=0).root / "digits"


def test_a_file_deleted_mid_refresh_is_quarantined_and_the_next_refresh_retires_it(tmp_path, digits, monkeypatch):
    src, home = tmp_path / "src", tmp_path / "home"
    shutil.copytree(digits, src)
    victim = sorted(src.glob("*.png"))[0]
    write = pc.WriteShardStage._write

    def racing(self, cands):
        if victim.exists():
            victim.unlink()
        return write(self, cands)

    monkeypatch.setattr(pc.WriteShardStage, "_write", racing)
    first = refresh_source(str(src), home, encode_cfg=ENCODE, backend="local")
    monkeypatch.setattr(pc.WriteShardStage, "_write", write)

    assert first.curated.get("quarantined") == 1, first.curated
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT status, reason FROM samples WHERE source_uri = ?", [str(victim)]).fetchall()
        accepted = con.execute("SELECT count(*) FROM samples WHERE status = 'accepted'").fetchone()[0]
    finally:
        con.close()
    assert rows == [("quarantined", "vanished_during_curation: No such file or directory")]
    assert accepted == first.curated["accepted"]
    assert not list((home / "curated" / "image").glob("set-aside-*"))  # the writer's note was read

    second = refresh_source(str(src), home, encode_cfg=ENCODE, backend="local")
    assert second.removed == 1  # the gone file's row, and nothing else
