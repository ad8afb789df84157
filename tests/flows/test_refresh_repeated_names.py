"""A name the listing yields twice: a tar member appended again (tar -r), a listing naming one file
in two rows, two tars of one file name under one glob. The index held such a name twice, and every
refresh found it changed, curated its input again and flipped the index row between the two
versions. Now the last entry keeps the name (what tar -x leaves on disk; the listing's last row),
each earlier one is recorded as a rejected entry of its own (shadowed_by_later_entry), same-named
tars are named by their path under the glob's folder, and a second refresh is a no-op. A catalog
built before the change refreshes as a no-op when its source has no repeated names, and heals in
one refresh when it has (fixtures/refresh_v6_*: catalogs the code before made)."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import duckdb
import pytest

from catalog import Catalog, schema_version
from flows.refresh import refresh_source
from preprocess.encode import EncodeConfig
from preprocess.sources import SHADOWED, SourceSpec, list_entries

from .refresh_sources import (DISTINCT_DIGITS, REPEATED_DIGITS, appended_tar, distinct_sources, repeated_sources,
                              same_named_tars, tar_of, twice_listed)

ENCODE = EncodeConfig(text="phone")  # no model to load
FIXTURES = Path(__file__).parent / "fixtures"


def _corpus(root: Path, num_digits: int) -> Path:
    from preprocess.image.demo_corpus import write_demo_corpus

    return write_demo_corpus(root / "corpus", num_digits=num_digits, num_shapes=0).root / "digits"


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    return _corpus(tmp_path_factory.mktemp("corpus"), REPEATED_DIGITS)


def _refresh(src, home):
    return refresh_source(str(src), home, encode_cfg=ENCODE, backend="local")


def _query(home: Path, sql: str, params=()) -> list[tuple]:
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def _index(home: Path) -> list[tuple]:
    return _query(home, "SELECT source, name, content_hash, status FROM source_index ORDER BY ALL")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_stable(src, home) -> None:
    """The next refresh is a no-op and the index holds each name once, unchanged by it."""
    index = _index(home)
    assert len({(s, name) for s, name, _, _ in index}) == len(index), index
    again = _refresh(src, home)
    assert again.noop and again.plan["inputs_to_curate"] == 0 and again.plan["changed_entries"] == 0, again
    assert _index(home) == index
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        assert all(v == 0 for v in cat.check().values()), cat.check()


def test_a_tar_member_appended_again_is_its_last_copy_and_the_earlier_one_is_recorded(tmp_path, digits):
    tar = appended_tar(tmp_path, digits)
    assert [m.name for m in tarfile.open(tar).getmembers()].count("digit_00000.png") == 2
    home = tmp_path / "home"
    first = _refresh(tar, home)
    assert first.curated == {"accepted": 2, "rejected": 1}, first
    _assert_stable(tar, home)
    index = {name: h for _, name, h, _ in _index(home)}
    assert index["a.tar/digit_00000.png"] == _sha(digits / "digit_00002.png")  # the appended copy: what tar -x leaves
    assert index["a.tar/digit_00000.png#shadowed-1"] == f"{SHADOWED}:"
    rows = _query(home, "SELECT source_uri, status, reason FROM samples ORDER BY ALL")
    assert [(u.split("#", 1)[1], s) for u, s, _ in rows] == [
        ("digit_00000.png", "accepted"), ("digit_00000.png#shadowed-1", "rejected"), ("digit_00001.png", "accepted")]
    assert rows[1][2] == (f"{SHADOWED}: digit_00000.png#shadowed-1 (copy 1 of this member; a later copy is used, "
                          "as tar -x leaves the last one)")


def test_a_listing_naming_one_file_in_two_rows_takes_the_last_row(tmp_path, digits):
    listing = twice_listed(tmp_path, digits)
    home = tmp_path / "home"
    first = _refresh(listing, home)
    assert first.curated == {"accepted": 2, "rejected": 1}, first
    _assert_stable(listing, home)
    rows = _query(home, "SELECT source_uri, status, caption, reason FROM samples ORDER BY ALL")
    assert [(Path(u).name, s, c) for u, s, c, _ in rows] == [
        ("digit_00003.png", "accepted", "a three, said again"), ("digit_00004.png", "accepted", "a four"),
        ("listing.csv#row=0", "rejected", None)]
    assert rows[2][3] == f"{SHADOWED}: digit_00003.png#row=0 (row 2 names the same file and is used)"


def test_two_tars_of_one_name_under_a_glob_are_named_by_their_folders(tmp_path, digits):
    glob, home = same_named_tars(tmp_path, digits), tmp_path / "home"
    first = _refresh(glob, home)
    assert first.curated == {"accepted": 4}, first
    _assert_stable(glob, home)
    names = [f"{t}/000.tar/{j:06d}{s}" for t in "ab" for j in (0, 1) for s in (".png", ".txt")]
    assert [name for _, name, _, _ in _index(home)] == names


def test_a_tar_renamed_when_a_second_one_of_its_name_joins_the_glob_keeps_its_samples(tmp_path, digits):
    """Only same-named tars are named by their path (so a source without them keeps its names): when
    b/000.tar joins, a/000.tar's members get new names at the same origins. They moved; their
    samples are no removal (as they were: removed, then never curated back)."""
    glob, home = same_named_tars(tmp_path, digits, folders=("a",)), tmp_path / "home"
    _refresh(glob, home)
    assert [name for _, name, _, _ in _index(home)][:2] == ["000.tar/000000.png", "000.tar/000000.txt"]
    same_named_tars(tmp_path, digits, folders=("b",))
    second = _refresh(glob, home)
    assert (second.removed, second.superseded, second.plan["removed_inputs"]) == (0, 0, 0), second
    assert _query(home, "SELECT status, count(*) FROM samples GROUP BY ALL") == [("accepted", 4)]
    assert {status for _, _, _, status in _index(home)} == {"present", "removed"}  # the old names, marked removed
    _assert_stable(glob, home)


def _import_v6(fixture: str, root: Path, home: Path, export: Path | None = None) -> None:
    """The fixture's catalog in ``home``, its paths under ``root`` (where the sources are); ``export``:
    the folder DuckDB imports it from (default root/export)."""
    export = export or root / "export"
    export.mkdir(parents=True)
    for p in (FIXTURES / fixture).iterdir():
        if p.suffix in (".csv", ".sql"):
            (export / p.name).write_text(p.read_text().replace("@EXPORT@", str(export)).replace("@ROOT@", str(root)))
    home.mkdir(parents=True)
    con = duckdb.connect(str(home / "catalog.duckdb"))
    try:
        con.execute(f"IMPORT DATABASE '{export}'")
    finally:
        con.close()
    assert _query(home, "SELECT max(version) FROM schema_version") == [(6,)]


def test_a_catalog_built_before_the_change_refreshes_as_a_no_op(tmp_path):
    """fixtures/refresh_v6_catalog is the catalog the code before this change made of the same files
    (fixtures/refresh_v6_catalog/make_fixture.py): tars of distinct names in two folders under one
    glob, and a listing. Opening it migrates it (v6 -> latest, its index rows kept), and refreshing
    either source curates nothing and leaves every index name as it was."""
    sources = distinct_sources(tmp_path, _corpus(tmp_path, DISTINCT_DIGITS))  # the same bytes
    home = tmp_path / "home"
    _import_v6("refresh_v6_catalog", tmp_path, home)
    names = _query(home, "SELECT source, name, content_hash FROM source_index ORDER BY ALL")
    samples = _query(home, "SELECT key, status FROM samples ORDER BY ALL")
    assert len(names) == 12 and any(name == "part0.tar/digit_00000.png" for _, name, _ in names)
    for src in sources:
        result = _refresh(src, home)
        assert result.noop and result.plan["inputs_to_curate"] == result.plan["changed_entries"] == 0, result
    assert _query(home, "SELECT max(version) FROM schema_version") == [(schema_version(),)]  # migrated, its rows kept
    assert _query(home, "SELECT source, name, content_hash FROM source_index ORDER BY ALL") == names
    assert _query(home, "SELECT key, status FROM samples ORDER BY ALL") == samples
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        assert all(v == 0 for v in cat.check().values()), cat.check()


def _current(home: Path) -> set[tuple]:
    """(source_uri, key, status, reason kind) of the samples not retired."""
    return set(_query(home, "SELECT source_uri, key, status, split_part(coalesce(reason, ''), ':', 1) FROM samples "
                            "WHERE status NOT IN ('removed', 'superseded')"))


@pytest.fixture(scope="module")
def repeated(tmp_path_factory) -> tuple[Path, list[str], set[tuple]]:
    """The three repeated-name sources (under one root, which the v6 catalog's paths name) and the
    samples a first refresh of them makes with the code of today (a fresh home): the same for both
    copies held, so made once. The tests only read these sources."""
    root = tmp_path_factory.mktemp("repeated")
    sources = repeated_sources(root, _corpus(root, REPEATED_DIGITS))
    fresh = root / "fresh"
    for src in sources:
        _refresh(src, fresh)
    return root, sources, _current(fresh)


@pytest.mark.parametrize("held", ["first copy", "last copy"])
def test_a_catalog_built_before_the_change_with_repeated_names_heals_in_one_refresh(tmp_path, held, repeated):
    """fixtures/refresh_v6_repeated: the three sources refreshed twice by the code before, so its
    index holds their names twice, holding one of the copies' versions (which one the flip left:
    both are tried for the appended tar member), and its catalog the samples both copies made. One
    refresh after the upgrade curates the repeated names again, whatever the index held; the
    samples are then those a first refresh of the same sources makes with the code of today, and
    the next refresh is a no-op."""
    root, sources, fresh = repeated
    digits = root / "corpus" / "digits"
    home = tmp_path / "home"
    _import_v6("refresh_v6_repeated", root, home, export=tmp_path / "export")
    copy = digits / ("digit_00000.png" if held == "first copy" else "digit_00002.png")
    con = duckdb.connect(str(home / "catalog.duckdb"))
    try:
        con.execute("UPDATE source_index SET content_hash = ?, size = ? WHERE name = 'a.tar/digit_00000.png'",
                    [_sha(copy), copy.stat().st_size])
        assert con.execute("SELECT count(*) FROM source_index WHERE name = 'a.tar/digit_00000.png'").fetchone() == (2,)
        stale = con.execute("SELECT count(*) FROM samples WHERE source_uri LIKE '%a.tar#digit_00000.png' "
                            "AND status = 'accepted'").fetchone()[0]
    finally:
        con.close()
    assert stale == 2  # both copies made an accepted sample at one origin
    healed = [_refresh(src, home) for src in sources]
    assert all(not r.noop and r.removed == 0 for r in healed), healed
    for src in sources:
        _assert_stable(src, home)

    assert _current(home) == fresh
    assert _query(home, "SELECT count(*) FROM samples WHERE source_uri LIKE '%a.tar#digit_00000.png' "
                        "AND status = 'accepted'") == [(1,)]


def test_listing_names_are_unique_and_deterministic(tmp_path, digits):
    """list_entries itself: each name once, the earlier copies under names of their own, the same
    names on every listing."""
    tar = tmp_path / "t" / "a.tar"
    tar_of(tar, [("x.png", digits / "digit_00000.png")])
    for i in (1, 2):
        tar_of(tar, [("x.png", digits / f"digit_{i:05d}.png")], mode="a")
    entries = list_entries(SourceSpec(str(tar)))
    assert [(e.name, e.kind) for e in entries] == [
        ("a.tar/x.png#shadowed-1", SHADOWED), ("a.tar/x.png#shadowed-2", SHADOWED), ("a.tar/x.png", "file")]
    assert entries[-1].read() == (digits / "digit_00002.png").read_bytes()
    assert [e.name for e in list_entries(SourceSpec(str(tar)))] == [e.name for e in entries]
