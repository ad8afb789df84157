"""Session 53 review (helper S). A CSV listing with a cell past Python csv's 128 KiB field limit is an
unreadable listing (SourceError, naming the file and the limit), as any other unreadable listing is:
_csv.Error is neither OSError nor ValueError and came out as a traceback."""

from __future__ import annotations

import pytest

from preprocess.sources import SourceError, _parsed_listing


def test_a_cell_past_the_csv_field_limit_is_an_unreadable_listing(tmp_path):
    listing = tmp_path / "list.csv"
    listing.write_text('file,caption\na.png,"' + "x" * 140_000 + '"\n')
    with pytest.raises(SourceError, match=r"unreadable listing .*list\.csv: Error: field larger than field limit"):
        _parsed_listing(listing)
