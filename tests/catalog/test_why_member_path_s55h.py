"""`lumina catalog why` of a member by its full path inside the archive
(`/data/shards/000000.tar/000008.png`, what a shell completes up to the archive) said "no sample
with key ..., and none came from a file of that name", though the member's sample was there (its
source_uri `/data/shards/000000.tar#000008.png`; the relative name `000000.tar/000008.png` worked).
Such a path now answers with the member's sample; a member the catalog lacks still says no sample."""

from __future__ import annotations

from catalog import Catalog
from catalog.cli import main

from .helpers import key


def test_why_of_a_path_inside_a_file_is_its_members_sample(catalog_copy, tmp_path, capsys):
    archive = tmp_path / "shards" / "000000.tar"
    archive.parent.mkdir()
    archive.write_bytes(bytes(1024))
    with Catalog.open(catalog_copy) as cat:
        cat.sql("UPDATE samples SET source_uri = ? WHERE key = ?", [f"{archive}#sub/000008.png", key(0, 0)])
    assert main(["why", f"{archive}/sub/000008.png", "--catalog", str(catalog_copy)]) == 0
    assert capsys.readouterr().out.startswith(f"sample {key(0, 0)}  [image]")
    assert main(["why", f"{archive}/sub/other.png", "--catalog", str(catalog_copy)]) == 2
    assert "no sample with key" in capsys.readouterr().err
