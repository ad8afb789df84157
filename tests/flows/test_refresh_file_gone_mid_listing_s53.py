"""A file listed by a refresh and gone before it was hashed (a writer's temporary file renamed to its
final name, a file deleted) failed the whole refresh with FileNotFoundError: a scheduled refresh of a
folder written to all the time failed whenever a file went in that window (the hashing of a large
source takes minutes). The refresh now completes, and the next one, which lists the folder as it is,
leaves the catalog as a clean refresh would."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

import preprocess.refresh as pr
from flows.refresh import refresh_source
from preprocess.encode import EncodeConfig

ENCODE = EncodeConfig(text="phone")  # no model to load


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    from preprocess.image.demo_corpus import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("gone_mid_listing"), num_digits=6, num_shapes=0).root / "digits"


def _current(home: Path) -> list[tuple[str, str]]:
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        return con.execute("SELECT status, source_uri FROM samples WHERE status IN ('accepted', 'rejected', 'quarantined') "
                           "ORDER BY source_uri").fetchall()
    finally:
        con.close()


def test_files_gone_between_listing_and_hashing_do_not_fail_the_refresh(tmp_path, digits, monkeypatch):
    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    for f in sorted(digits.iterdir())[:8]:  # digits 0-3, each a png and its caption
        shutil.copy(f, src)
    refresh_source(str(src), home, encode_cfg=ENCODE, backend="local")
    temporary = src / ".digit_00004.png.Xa12"  # rsync's way: written under a temporary name, then renamed
    shutil.copy(digits / "digit_00004.png", temporary)
    shutil.copy(digits / "digit_00004.txt", src)
    shutil.copy(digits / "digit_00005.png", src)  # a new file deleted before it is hashed
    shutil.copy(digits / "digit_00005.txt", src)
    hash_now = pr.content_hash

    def writer_busy(e):
        if temporary.exists():
            temporary.rename(src / "digit_00004.png")
            (src / "digit_00005.png").unlink()
        return hash_now(e)

    monkeypatch.setattr(pr, "content_hash", writer_busy)
    refresh_source(str(src), home, encode_cfg=ENCODE, backend="local")
    monkeypatch.setattr(pr, "content_hash", hash_now)

    refresh_source(str(src), home, encode_cfg=ENCODE, backend="local")
    current = _current(home)
    assert ("accepted", str(src / "digit_00004.png")) in current, current
    assert not [uri for _, uri in current if "Xa12" in uri or "digit_00005.png" in uri], current
    clean_src, clean_home = tmp_path / "clean_src", tmp_path / "clean_home"
    shutil.copytree(src, clean_src)
    refresh_source(str(clean_src), clean_home, encode_cfg=ENCODE, backend="local")
    assert [(s, Path(u).name) for s, u in current] == [(s, Path(u).name) for s, u in _current(clean_home)]
