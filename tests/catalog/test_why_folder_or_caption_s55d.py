"""`lumina catalog why` of the folder a user curated (what became of it?) or of a caption file beside
an image (`img02.txt`) said only "no sample with key ..., and none came from a file of that name".
Now the one line goes on: a folder says how many samples came from files in it and the query that
counts them per status and reason; a file says which file of the same name beside it gave a sample."""

from __future__ import annotations

from catalog import Catalog
from catalog.cli import main

from .helpers import key


def test_why_of_a_folder_or_a_caption_file_points_to_the_samples(catalog_copy, tmp_path, monkeypatch, capsys):
    pics = tmp_path / "pics"
    pics.mkdir()
    with Catalog.open(catalog_copy) as cat:  # batch 0's 6 samples came from files in pics/
        cat.sql("UPDATE samples SET source_uri = ? || '/' || key || '.png' WHERE key LIKE '00000000%'", [str(pics)])
    monkeypatch.chdir(tmp_path)
    for given in (str(pics), "pics", "pics/"):
        assert main(["why", given, "--catalog", str(catalog_copy)]) == 2
        err = capsys.readouterr().err
        assert (f"; it is a folder, and 6 samples came from files in it: lumina catalog sql \"SELECT status, "
                f"split_part(reason, ':', 1) AS reason_kind, count(*) AS n FROM samples WHERE starts_with(source_uri, "
                f"'{pics}/') GROUP BY ALL ORDER BY n DESC\"") in err, given
    assert main(["why", f"pics/{key(0, 1)}.txt", "--catalog", str(catalog_copy)]) == 2
    err = capsys.readouterr().err
    assert err.rstrip().endswith(f"; a sample came from the file beside it of the same name: "
                                 f"lumina catalog why {pics}/{key(0, 1)}.png")
    assert main(["why", "pics/other.txt", "--catalog", str(catalog_copy)]) == 2
    assert capsys.readouterr().err.rstrip().endswith("none came from a file of that name")
