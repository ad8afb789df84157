"""`lumina catalog why FILE` of a file inside a sample that is a folder (a multi-view object's view or
camera file, which its reason names: `view_decode_error: view_02.png: ...`): the folder's sample.
It said "no sample with key ..., and none came from a file of that name", exit 2."""

from __future__ import annotations

from catalog.cli import main

from .helpers import key


def test_why_of_a_view_file_tells_its_objects_story(catalog_copy, capsys):
    from catalog import Catalog

    with Catalog.open(catalog_copy) as cat, cat._connection() as con:  # a multi-view object's folder
        con.execute("UPDATE samples SET source_uri = '/raw/objects/chair_07' WHERE key = ?", [key(1, 0)])
    for given in ("/raw/objects/chair_07/view_02.png", "objects/chair_07/cameras.json", "chair_07/view_02.png"):
        rc = main(["why", given, "--catalog", str(catalog_copy)])
        out, err = capsys.readouterr()
        assert rc == 0 and out.startswith(f"sample {key(1, 0)}"), (given, err)
    # a file beside no sample still says so; a bare name is not taken for its folder
    for given in ("objects/chair_08/view_02.png", "view_02.png"):
        assert main(["why", given, "--catalog", str(catalog_copy)]) == 2
        assert "none came from a file of that name" in capsys.readouterr().err
