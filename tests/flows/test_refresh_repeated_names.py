"""A name the listing yields twice: a tar member appended again (tar -r), a listing naming one file
in two rows, two tars of one file name under one glob. The index held such a name twice, and every
refresh found it changed, curated its input again and flipped the index row between the two
versions. Now the last entry keeps the name (what tar -x leaves on disk; the listing's last row),
each earlier one is recorded as a rejected entry of its own (shadowed_by_later_entry), same-named
tars are named by their path under the glob's folder, and a second refresh is a no-op. A catalog
built before the change, whose source has no repeated names, refreshes as a no-op after it."""

from __future__ import annotations

import csv
import hashlib
import shutil
import tarfile
from pathlib import Path

import duckdb
import pytest

from catalog import Catalog, schema_version
from flows.refresh import refresh_source
from preprocess.encode import EncodeConfig
from preprocess.sources import SHADOWED, SourceSpec, list_entries

ENCODE = EncodeConfig(text="phone")  # no model to load
FIXTURE = Path(__file__).parent / "fixtures" / "refresh_v6_catalog"


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    from preprocess.image.demo_corpus import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("corpus"), num_digits=6, num_shapes=0).root / "digits"


def _refresh(src, home):
    return refresh_source(str(src), home, encode_cfg=ENCODE, backend="local")


def _query(home: Path, sql: str, params=()) -> list[tuple]:
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def _index(home: Path) -> list[tuple]:
    return _query(home, "SELECT name, content_hash, status FROM source_index ORDER BY ALL")


def _tar(path: Path, members: list[tuple[str, Path]], mode: str = "w") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode) as tar:
        for arcname, file in members:
            tar.add(file, arcname=arcname)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_stable(src, home) -> None:
    """The second refresh is a no-op and the index holds each name once, unchanged by it."""
    index = _index(home)
    assert len({name for name, _, _ in index}) == len(index), index
    second = _refresh(src, home)
    assert second.noop and second.plan["inputs_to_curate"] == 0 and second.plan["changed_entries"] == 0, second
    assert _index(home) == index
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        assert cat.check()["source_index_unique"] == 0


def test_a_tar_member_appended_again_is_its_last_copy_and_the_earlier_one_is_recorded(tmp_path, digits):
    d = lambda i, s: digits / f"digit_{i:05d}{s}"  # noqa: E731
    tar = tmp_path / "src" / "a.tar"
    _tar(tar, [(f"digit_{i:05d}{s}", d(i, s)) for i in (0, 1) for s in (".png", ".txt")])
    _tar(tar, [("digit_00000.png", d(2, ".png"))], mode="a")  # tar -rf a.tar digit_00000.png: other bytes
    assert [m.name for m in tarfile.open(tar).getmembers()].count("digit_00000.png") == 2
    home = tmp_path / "home"
    first = _refresh(tar, home)
    assert first.curated == {"accepted": 2, "rejected": 1}, first
    _assert_stable(tar, home)
    index = {name: h for name, h, _ in _index(home)}
    assert index["a.tar/digit_00000.png"] == _sha(d(2, ".png"))  # the appended copy: what tar -x leaves
    assert index["a.tar/digit_00000.png#shadowed-1"] == f"{SHADOWED}:"
    rows = _query(home, "SELECT source_uri, status, reason FROM samples ORDER BY ALL")
    assert [(u.split("#", 1)[1], s) for u, s, _ in rows] == [
        ("digit_00000.png", "accepted"), ("digit_00000.png#shadowed-1", "rejected"), ("digit_00001.png", "accepted")]
    assert rows[1][2] == (f"{SHADOWED}: digit_00000.png#shadowed-1 (copy 1 of this member; a later copy is used, "
                          "as tar -x leaves the last one)")


def test_a_listing_naming_one_file_in_two_rows_takes_the_last_row(tmp_path, digits):
    shutil.copytree(digits, tmp_path / "digits")
    listing = tmp_path / "listing.csv"
    with open(listing, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "caption"])
        w.writerows([["digits/digit_00000.png", "a zero, said first"], ["digits/digit_00001.png", "a one"],
                     ["digits/digit_00000.png", "a zero, said again"]])
    home = tmp_path / "home"
    first = _refresh(listing, home)
    assert first.curated == {"accepted": 2, "rejected": 1}, first
    _assert_stable(listing, home)
    rows = _query(home, "SELECT source_uri, status, caption, reason FROM samples ORDER BY ALL")
    assert [(Path(u).name, s, c) for u, s, c, _ in rows] == [
        ("digit_00000.png", "accepted", "a zero, said again"), ("digit_00001.png", "accepted", "a one"),
        ("listing.csv#row=0", "rejected", None)]
    assert rows[2][3] == f"{SHADOWED}: digit_00000.png#row=0 (row 2 names the same file and is used)"


def _two_tars(root: Path, digits: Path, folders=("a", "b")) -> None:
    for folder, numbers in (("a", (0, 1)), ("b", (2, 3))):
        if folder in folders:
            _tar(root / folder / "000.tar", [(f"{j:06d}{s}", digits / f"digit_{i:05d}{s}")
                                             for j, i in enumerate(numbers) for s in (".png", ".txt")])


def test_two_tars_of_one_name_under_a_glob_are_named_by_their_folders(tmp_path, digits):
    _two_tars(tmp_path / "shards", digits)
    glob, home = str(tmp_path / "shards" / "*" / "000.tar"), tmp_path / "home"
    first = _refresh(glob, home)
    assert first.curated == {"accepted": 4}, first
    _assert_stable(glob, home)
    names = [f"{t}/000.tar/{j:06d}{s}" for t in "ab" for j in (0, 1) for s in (".png", ".txt")]
    assert [name for name, _, _ in _index(home)] == names


def test_a_tar_renamed_when_a_second_one_of_its_name_joins_the_glob_keeps_its_samples(tmp_path, digits):
    """Only same-named tars are named by their path (so a source without them keeps its names): when
    b/000.tar joins, a/000.tar's members get new names at the same origins. They moved; their
    samples are no removal (as they were: removed, then never curated back)."""
    _two_tars(tmp_path / "shards", digits, folders=("a",))
    glob, home = str(tmp_path / "shards" / "*" / "000.tar"), tmp_path / "home"
    _refresh(glob, home)
    assert [name for name, _, _ in _index(home)][:2] == ["000.tar/000000.png", "000.tar/000000.txt"]
    _two_tars(tmp_path / "shards", digits, folders=("b",))
    second = _refresh(glob, home)
    assert (second.removed, second.superseded, second.plan["removed_inputs"]) == (0, 0, 0), second
    assert _query(home, "SELECT status, count(*) FROM samples GROUP BY ALL") == [("accepted", 4)]
    assert {status for _, _, status in _index(home)} == {"present", "removed"}  # the old names, marked removed
    _assert_stable(glob, home)


def _import_v6(root: Path, home: Path) -> None:
    export = root / "export"
    export.mkdir(parents=True)
    for p in FIXTURE.iterdir():
        if p.suffix in (".csv", ".sql"):
            (export / p.name).write_text(p.read_text().replace("@EXPORT@", str(export)).replace("@ROOT@", str(root)))
    home.mkdir(parents=True)
    con = duckdb.connect(str(home / "catalog.duckdb"))
    try:
        con.execute(f"IMPORT DATABASE '{export}'")
    finally:
        con.close()


def test_a_catalog_built_before_the_change_refreshes_as_a_no_op(tmp_path):
    """The fixture is the catalog the code before this change made (fixtures/refresh_v6_catalog/
    make_fixture.py) of the same files: tars of distinct names in two folders under one glob, and a
    listing. Opening it migrates it (v6 -> latest, its index rows kept), and refreshing either source
    curates nothing and leaves every index name as it was."""
    from preprocess.image.demo_corpus import write_demo_corpus

    digits = write_demo_corpus(tmp_path / "corpus", num_digits=6, num_shapes=0).root / "digits"  # the same bytes
    for folder, numbers in (("a", (0, 1)), ("b", (2, 3))):
        _tar(tmp_path / "shards" / folder / f"part{numbers[0]}.tar",
             [(f"digit_{i:05d}{s}", digits / f"digit_{i:05d}{s}") for i in numbers for s in (".png", ".txt")])
    with open(tmp_path / "listing.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "caption"])
        w.writerows([f"corpus/digits/digit_{i:05d}.png", (digits / f"digit_{i:05d}.txt").read_text()] for i in (4, 5))
    home = tmp_path / "home"
    _import_v6(tmp_path, home)
    assert _query(home, "SELECT max(version) FROM schema_version") == [(6,)]
    names = _query(home, "SELECT source, name, content_hash FROM source_index ORDER BY ALL")
    samples = _query(home, "SELECT key, status FROM samples ORDER BY ALL")
    assert len(names) == 12 and any(name == "part0.tar/digit_00000.png" for _, name, _ in names)
    for src in (tmp_path / "shards" / "*" / "*.tar", tmp_path / "listing.csv"):
        result = _refresh(src, home)
        assert result.noop and result.plan["inputs_to_curate"] == result.plan["changed_entries"] == 0, result
    assert _query(home, "SELECT max(version) FROM schema_version") == [(schema_version(),)]  # migrated, its rows kept
    assert _query(home, "SELECT source, name, content_hash FROM source_index ORDER BY ALL") == names
    assert _query(home, "SELECT key, status FROM samples ORDER BY ALL") == samples
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        assert all(v == 0 for v in cat.check().values()), cat.check()


def test_listing_names_are_unique_and_deterministic(tmp_path, digits):
    """list_entries itself: each name once, the earlier copies under names of their own, the same
    names on every listing."""
    tar = tmp_path / "t" / "a.tar"
    _tar(tar, [("x.png", digits / "digit_00000.png")])
    for i in (1, 2):
        _tar(tar, [("x.png", digits / f"digit_{i:05d}.png")], mode="a")
    entries = list_entries(SourceSpec(str(tar)))
    assert [(e.name, e.kind) for e in entries] == [
        ("a.tar/x.png#shadowed-1", SHADOWED), ("a.tar/x.png#shadowed-2", SHADOWED), ("a.tar/x.png", "file")]
    assert entries[-1].read() == (digits / "digit_00002.png").read_bytes()
    assert [e.name for e in list_entries(SourceSpec(str(tar)))] == [e.name for e in entries]
