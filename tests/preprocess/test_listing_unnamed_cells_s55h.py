"""A CSV row with more cells than its header (most often a caption with an unquoted comma,
`a.png,a cat, on a mat`) was curated with the cells past the header dropped unsaid: the sample was
captioned `a cat`. Such a row is now rejected as `unnamed_cells`, under its row's name, saying how
many cells it has and that a cell holding a comma takes double quotes; the rows around it are as
before, and a row the header fits keeps its caption whole."""

from __future__ import annotations

from PIL import Image

from preprocess.sources import SourceSpec, group_by_stem, list_entries


def test_a_row_with_cells_past_the_header_is_rejected_not_cut(tmp_path):
    for name in ("a.png", "b.png"):
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    listing = tmp_path / "listing.csv"
    listing.write_text('path,caption\na.png,a cat, on a mat\nb.png,"a dog, on a rug"\n')
    inputs, leftovers = group_by_stem(list_entries(SourceSpec(str(listing))), (".png",))
    assert [i.name for i in inputs] == ["b.png"]
    assert inputs[0].caption.text == "a dog, on a rug"
    [row] = leftovers
    assert (row.entry.name, row.entry.uri, row.reason_kind) == ("a.png#row=0", f"{listing}#row=0", "unnamed_cells")
    assert row.detail == ("3 cells where the header names 2 (unnamed: ' on a mat'); "
                          "a cell holding a comma must be in double quotes")


def test_empty_cells_past_the_header_are_a_trailing_delimiter_and_nothing_is_dropped(tmp_path):
    """A spreadsheet's export may end every row with a delimiter (`a.png,a cat,`): no cell is lost,
    and every row was curated before unnamed_cells; it stays so."""
    for name in ("a.png", "b.png"):
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    listing = tmp_path / "listing.csv"
    listing.write_text("path,caption\na.png,a cat,\nb.png,a dog,,  \n")
    inputs, leftovers = group_by_stem(list_entries(SourceSpec(str(listing))), (".png",))
    assert [(i.name, i.caption.text) for i in inputs] == [("a.png", "a cat"), ("b.png", "a dog")] and not leftovers
