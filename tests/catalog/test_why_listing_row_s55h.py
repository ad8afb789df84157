"""`lumina catalog why LISTING#row=N` of a row that gave a sample: such a sample is named by the row's
media file, not the row (only rows rejected for themselves are, `#row=N`). The hint listed the
listing's rejected rows as "a sample came from the file beside it of the same name"
(`why listing.csv#row=4` on a user's 22-row listing suggested `why listing.csv#row=20`, a missing
file's row, and `#row=6`); `why listing.csv` appended the same. Now a row a refresh indexed points to
its input's file, and an unindexed one says how its sample is named."""

from __future__ import annotations

from catalog import Catalog
from catalog.cli import main

from .helpers import key

BESIDE = "beside it of the same name"


def _listing_with_rows(catalog_copy, tmp_path):
    listing = tmp_path / "list.csv"
    listing.write_text("path,caption\nmedia/a.png,a cat\nmedia/gone.png,a dog\n")
    with Catalog.open(catalog_copy) as cat:  # row 0 gave an accepted sample, row 1 named a missing file
        cat.sql("UPDATE samples SET source_uri = ? WHERE key = ?", [str(tmp_path / "media" / "a.png"), key(0, 0)])
        cat.sql("UPDATE samples SET source_uri = ? WHERE key = ?", [f"{listing}#row=1", key(0, 3)])
    return listing


def test_why_of_an_accepted_row_does_not_name_the_listings_other_rows(catalog_copy, tmp_path, capsys):
    listing = _listing_with_rows(catalog_copy, tmp_path)
    assert main(["why", f"{listing}#row=0", "--catalog", str(catalog_copy)]) == 2
    err = capsys.readouterr().err
    assert BESIDE not in err and "#row=1" not in err, err
    assert f"; a row of {listing} that names a media file is the sample of that file: lumina catalog why FILE" in err
    assert main(["why", str(listing), "--catalog", str(catalog_copy)]) == 2
    assert BESIDE not in capsys.readouterr().err


def test_why_of_an_indexed_row_names_its_inputs_file(catalog_copy, tmp_path, capsys):
    listing = _listing_with_rows(catalog_copy, tmp_path)
    media = tmp_path / "media" / "a.png"
    with Catalog.open(catalog_copy) as cat:  # as a refresh indexes a listing: the row's caption, the media file
        for name, uri in (("media/a.txt", f"{listing}#row=0"), ("media/a.png", str(media))):
            cat.sql("INSERT INTO source_index (source, modality, name, uri, input_name, size, content_hash, first_seen, "
                    "last_seen, status) VALUES (?, 'image', ?, ?, 'media/a.png', 1, 'h', now(), now(), 'present')",
                    [str(listing), name, uri])
    assert main(["why", f"{listing}#row=0", "--catalog", str(catalog_copy)]) == 2
    err = capsys.readouterr().err
    assert err.rstrip().endswith(f"; row=0 of {listing} belongs to an input whose sample is named by its file: "
                                 f"lumina catalog why {media}"), err
