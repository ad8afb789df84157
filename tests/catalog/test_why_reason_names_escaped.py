"""`why`'s "reason names" line shows control characters of the named sample's file as escapes, as the
rest of `why` does (catalog/cli.py _visible): it printed the file name raw, so an ESC sequence in a
scraped file name recoloured the reader's terminal there and nowhere else."""

from __future__ import annotations

from catalog import Catalog
from catalog.cli import main

from .helpers import key


def test_the_file_a_reason_names_is_shown_with_escapes(catalog_copy, capsys):
    kept, copy = key(1, 0), key(2, 3)
    with Catalog.open(catalog_copy) as cat:
        cat.sql("UPDATE samples SET source_uri = ? WHERE key = ?", ["/raw/\x1b[31mred\tcat.png", kept])
        cat.sql("UPDATE samples SET reason = ? WHERE key = ?", [f"phash_dedup: near duplicate of {kept}", copy])
    rc = main(["why", copy, "--catalog", str(catalog_copy)])
    out = capsys.readouterr().out
    assert rc == 0 and "\x1b" not in out and "\t" not in out
    assert out.splitlines()[1] == f"  reason names {kept}  [image]  accepted: /raw/\\x1b[31mred\\tcat.png"
