"""`lumina catalog why metadata.csv`: a transcript listing is no sample, but its lines are (a line
naming no audio is rejected with source_uri <listing>#line=N). It said only "none came from a file of
that name"; now it says how many of the listing's lines are samples and how to see them."""

from __future__ import annotations

import shlex

from catalog.cli import main

from .helpers import key


def _lines(catalog_copy, uris: dict) -> None:
    from catalog import Catalog

    with Catalog.open(catalog_copy) as cat, cat._connection() as con:
        for k, (uri, status) in uris.items():
            con.execute("UPDATE samples SET source_uri = ?, status = ?, reason = 'metadata_without_audio: x' WHERE key = ?",
                        [uri, status, k])


def test_why_of_a_listing_names_its_lines(catalog_copy, capsys):
    _lines(catalog_copy, {key(1, 0): ("/raw/lj/metadata.csv#line=4", "rejected"),
                          key(1, 1): ("/raw/lj/metadata.csv#line=9", "rejected")})
    for given in ("metadata.csv", "lj/metadata.csv", "/raw/lj/metadata.csv"):
        assert main(["why", given, "--catalog", str(catalog_copy)]) == 2
        err = capsys.readouterr().err
        assert "/raw/lj/metadata.csv is a listing: 2 of its lines are samples (2 rejected)" in err, err
        assert "lumina catalog why '/raw/lj/metadata.csv#line=4'" in err
        # a picture listing's accepted rows are named by their files: 2 of 22 read as 20 rows lost
        assert "(2 rejected), not counting lines whose sample is named by their media file (why that file); " in err
    # the query it suggests lists them
    sql = shlex.split(err.split("lumina catalog sql ", 1)[1])[0]
    assert main(["sql", sql, "--catalog", str(catalog_copy), "--json"]) == 0
    assert sorted(r["source_uri"] for r in __import__("json").loads(capsys.readouterr().out)) == [
        "/raw/lj/metadata.csv#line=4", "/raw/lj/metadata.csv#line=9"]


def test_a_listing_name_two_sources_share_asks_for_more_of_the_path(catalog_copy, capsys):
    _lines(catalog_copy, {key(1, 0): ("/raw/a/metadata.csv#line=4", "rejected"),
                          key(1, 1): ("/raw/b/metadata.csv#line=2", "rejected")})
    assert main(["why", "metadata.csv", "--catalog", str(catalog_copy)]) == 2
    assert "2 listings of that name have lines that are samples" in capsys.readouterr().err
    # and a name no listing has says nothing more
    assert main(["why", "other.csv", "--catalog", str(catalog_copy)]) == 2
    assert capsys.readouterr().err.rstrip().endswith("none came from a file of that name")


def test_the_suggested_commands_paste_whole_for_a_path_with_a_quote(catalog_copy, capsys):
    _lines(catalog_copy, {key(1, 0): ("/data/bob's $clips/metadata.csv#line=1", "rejected")})
    assert main(["why", "metadata.csv", "--catalog", str(catalog_copy)]) == 2
    err = capsys.readouterr().err
    why = shlex.split(err.split("e.g. ", 1)[1].split(";", 1)[0])
    assert why == ["lumina", "catalog", "why", "/data/bob's $clips/metadata.csv#line=1"]
    sql = shlex.split(err.split("lumina catalog sql ", 1)[1])[0]
    assert main(["sql", sql, "--catalog", str(catalog_copy), "--json"]) == 0
    assert [r["source_uri"] for r in __import__("json").loads(capsys.readouterr().out)] == ["/data/bob's $clips/metadata.csv#line=1"]
